#!/usr/bin/env python3
"""DICOM JSON conformance of `dwc dump --format json` against pydicom.

For every file that pydicom ships (pydicom.data.get_testdata_files(), which includes the
pydicom-data package's files, plus pydicom.data.get_charset_files()), this runs

    dwc dump --format json --compact --inline-threshold 100000000 FILE...

(many files per process; a batch that fails is re-run one file per process) and compares each
data set with pydicom's DICOM JSON Model of `dcmread(path)` (`force=True` for files without a
Part 10 header).  Only what the standard leaves open is normalised; the rules and their reasons
are in docs/conformance.md and at RULES, `norm_*` and `Comparison` below.  Everything else that
differs is a mismatch.

Output: for each failing file its first differing elements with both values (skipped files
too with -v), then `conformance: N passed, M failed, K skipped`.  Files listed in docs/conformance.md (a
markdown table whose first column is the file's base name, or a path suffix, in backticks) are
known differences: they are reported but do not count as failed.

Exit status: 0 when every failure is listed in docs/conformance.md, 1 otherwise, 2 on usage or
setup errors (no dwc binary, pydicom missing and not installable).

Examples:
    python3 Scripts/conformance.py
    python3 Scripts/conformance.py --dwc .build/debug/dwc -v
    python3 Scripts/conformance.py --only CT_small --max-diffs 50
"""
from __future__ import annotations

import argparse
import base64
import concurrent.futures
import importlib.util
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_LIST = os.path.join(ROOT, "docs", "conformance.md")

# --------------------------------------------------------------------------------------------
# dependencies


def ensure_python_packages() -> None:
    """Install pydicom and pydicom-data with pip when they are missing (fresh Debian 12)."""
    missing = []
    if importlib.util.find_spec("pydicom") is None:
        missing.append("pydicom>=3")
    # pydicom-data installs the top-level package `data_store`; without it pydicom would try
    # to download its extra test files from the network.
    if importlib.util.find_spec("data_store") is None:
        missing.append("pydicom-data")
    if not missing:
        return
    if importlib.util.find_spec("pip") is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "python3-pip"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    print(f"conformance: installing {' '.join(missing)} with pip", file=sys.stderr)
    base = [sys.executable, "-m", "pip", "install", "-q", *missing]
    for cmd in (base, base + ["--break-system-packages"]):  # Debian 12 marks python3 as
        if subprocess.run(cmd).returncode == 0:            # externally managed (PEP 668)
            importlib.invalidate_caches()
            return
    sys.exit("conformance: could not install " + " ".join(missing) + " with pip")


# --------------------------------------------------------------------------------------------
# constants

# Values above this many bytes are elided on both sides (see docs/conformance.md, rule B2).
ELIDE_BYTES = 64 * 1024
# Make dwc write every binary value inline; no file pydicom ships is this large.
INLINE_THRESHOLD = 100_000_000

BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
INT_VRS = {"IS", "SL", "SS", "SV", "UL", "US", "UV"}
FLOAT_VRS = {"DS", "FD", "FL"}
NUMBER_VRS = INT_VRS | FLOAT_VRS
NUMBER_STRING_VRS = {"DS", "IS", "SV", "UV"}  # JSON Number or String (CP 1861)
# Leading spaces are insignificant for these VRs (PS3.5 table 6.2-1); for all string VRs
# trailing spaces are insignificant, and trailing NULs pad UI (and are tolerated elsewhere).
LEADING_SPACE_VRS = {"AE", "CS", "DS", "IS", "LO", "SH"}
PN_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")


def is_private(tag: int) -> bool:
    return (tag >> 16) % 2 == 1


def is_private_creator(tag: int) -> bool:
    return is_private(tag) and 0x10 <= (tag & 0xFFFF) <= 0xFF


# --------------------------------------------------------------------------------------------
# the file list


def collect_files() -> list[tuple[str, str]]:
    """(label, absolute path) of every regular file pydicom ships, sorted by label.

    The label is the path relative to site-packages (e.g. pydicom/data/test_files/CT_small.dcm,
    data_store/data/MR2_J2KI.dcm), which is unique where base names are not (DICOMDIR,
    README.txt)."""
    from pydicom.data import get_charset_files, get_testdata_files

    paths = {os.path.realpath(p) for p in get_testdata_files() + get_charset_files()}
    out = []
    for p in paths:
        if not os.path.isfile(p):
            continue
        parts = p.split(os.sep)
        for anchor in ("pydicom", "data_store"):
            if anchor in parts:
                i = len(parts) - 1 - parts[::-1].index(anchor)
                label = "/".join(parts[i:])
                break
        else:
            label = p
        out.append((label, p))
    return sorted(out)


# --------------------------------------------------------------------------------------------
# the known-differences list


class Known:
    """A row of the known-differences table: the elements it excuses (tags from its second
    column, e.g. `7FE00010`, or 'rejected' for a file dwc rejects; '*' or nothing: any) and
    its text."""

    def __init__(self, entry: str, elements: list[str] | None, text: str):
        self.entry, self.elements, self.text = entry, elements, text

    def covers(self, diff_paths: list[str], rejected: bool) -> list[str]:
        """What the row does not excuse."""
        if self.elements is None:
            return []
        if rejected:
            return [] if "rejected" in self.elements else ["dwc rejects the file"]
        return [p for p in diff_paths if not any(e in p for e in self.elements)]


def read_known(path: str) -> list[Known]:
    """Rows of the markdown table(s) under the heading 'Known differences' whose first cell is
    a file name in backticks."""
    known: list[Known] = []
    if not os.path.exists(path):
        return known
    in_section = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                in_section = "known differences" in line.lower()
                continue
            if not in_section or not line.lstrip().startswith("|"):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            m = re.fullmatch(r"`([^`]+)`", cells[0]) if cells else None
            if not m:
                continue
            col = cells[1] if len(cells) > 1 else ""
            tokens = re.findall(r"\b[0-9A-Fa-f]{8}\b|\brejected\b", col)
            elements = None if (not tokens or "*" in col) else [t.upper() if t != "rejected" else t for t in tokens]
            known.append(Known(m.group(1), elements, " | ".join(cells[1:])))
    return known


def known_entry(label: str, known: list[Known]) -> Known | None:
    """A row matches a file when its name is the file's base name or a '/'-suffix of its
    label."""
    for k in known:
        if label == k.entry or label.endswith("/" + k.entry):
            return k
    return None


# --------------------------------------------------------------------------------------------
# the reference: pydicom

UNVERIFIABLE = "__unverifiable__"  # an element pydicom cannot put into JSON
ALT_UN = "__alt_un__"              # base64 of the raw value, when reading it as UN is as valid


class Reference:
    def __init__(self, status: str, data=None, reason: str = "", notes=None):
        self.status = status  # "ok" or "unreadable"
        self.data = data
        self.reason = reason
        self.notes = notes or []


def plausible_raw_dataset(ds) -> bool:
    """A file without a Part 10 header counts as a raw data set when pydicom's forced parse
    gave at least one element of pydicom's dictionary and every other top-level tag is private
    or a group length: text, JSON, gzip and ICC files parse as one garbage element otherwise."""
    from pydicom.datadict import dictionary_has_tag

    tags = [int(t) for t in ds.keys()]
    if not any(dictionary_has_tag(t) for t in tags):
        return False
    return all(dictionary_has_tag(t) or is_private(t) or (t & 0xFFFF) == 0 for t in tags)


def pydicom_reference(path: str) -> Reference:
    import pydicom
    from pydicom.errors import InvalidDicomError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            try:
                ds = pydicom.dcmread(path)
            except InvalidDicomError:
                ds = pydicom.dcmread(path, force=True)
                if not plausible_raw_dataset(ds):
                    return Reference("unreadable", reason="pydicom: not DICOM (forced parse "
                                     "gives no plausible data set)")
        except Exception as exc:  # noqa: BLE001 - any failure means pydicom cannot read it
            return Reference("unreadable", reason=f"pydicom: {type(exc).__name__}: {exc}"[:200])
        if len(ds) == 0 and os.path.getsize(path) > 132 + 12:
            # e.g. a truncated encapsulated Pixel Data: pydicom warns and drops every element.
            return Reference("unreadable", reason="pydicom: read an empty data set from a "
                             "non-empty file")
        notes: list[str] = []
        data = dataset_json(ds, notes, "")
    return Reference("ok", data, notes=notes)


def dataset_json(ds, notes: list[str], where: str) -> dict:
    """pydicom's DataElement.to_json_dict for each element, recursing into sequences here
    so that one element pydicom cannot serialise does not lose the whole data set."""
    from pydicom.datadict import dictionary_VR
    from pydicom.dataelem import RawDataElement

    out = {}
    for tag in ds.keys():
        key = f"{int(tag):08X}"
        raw = ds.get_item(tag)
        raw_vr = raw.VR if isinstance(raw, RawDataElement) else "?"
        raw_bytes = raw.value if isinstance(raw, RawDataElement) and isinstance(raw.value, bytes) else None
        try:
            elem = ds[tag]
            if elem.VR == "SQ":
                items = [dataset_json(item, notes, f"{where}{key}[{i}].")
                         for i, item in enumerate(elem.value or [])]
                j = {"vr": "SQ", "Value": items}
            else:
                j = elem.to_json_dict(None, INLINE_THRESHOLD)
            j["vr"] = str(j["vr"])
        except Exception as exc:  # noqa: BLE001
            notes.append(f"{where}{key}: pydicom cannot convert it ({type(exc).__name__}: {exc})"[:160])
            out[key] = {UNVERIFIABLE: str(exc)}
            continue
        # Rule V1: the file does not say the VR (Implicit VR) or says UN, and pydicom took
        # one from its dictionaries (public and private).  A reader may as well keep UN (for
        # an element encoded UN, and for a private element in Implicit VR: the standard has
        # no private dictionary) or, for a dictionary VR like "US or OW", pick the binary
        # one: then its bytes are compared with the raw bytes pydicom read.
        if raw_bytes is not None and raw_vr in (None, "UN") and j["vr"] != "UN":
            try:
                alts = {v for v in dictionary_VR(tag).split(" or ") if v in BINARY_VRS}
                known_public = not is_private(int(tag))
            except KeyError:
                alts, known_public = set(), False
            if raw_vr == "UN" or not (known_public or is_private_creator(int(tag))):
                alts.add("UN")
            if alts - {j["vr"]}:
                j[ALT_UN] = (sorted(alts), base64.b64encode(raw_bytes).decode())
        out[key] = j
    return out


# --------------------------------------------------------------------------------------------
# the candidate: dwc


class DwcResult:
    def __init__(self, rc: int, data=None, stderr: str = ""):
        self.rc = rc
        self.data = data
        self.stderr = stderr


def dwc_cmd(dwc: str, files: list[str]) -> list[str]:
    return [dwc, "dump", "--format", "json", "--compact", "--inline-threshold", str(INLINE_THRESHOLD), *files]


def run_dwc(dwc: str, files: list[str], timeout: float) -> tuple[int, bytes, str]:
    try:
        p = subprocess.run(dwc_cmd(dwc, files), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, b"", f"timed out after {timeout:.0f} s"
    except OSError as exc:
        return -3, b"", f"cannot run {dwc}: {exc}"
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def parse_json(b: bytes):
    # Python's json accepts NaN/Infinity, which DICOM JSON has no spelling for; reject them.
    def bad_constant(name):
        raise ValueError(f"non-JSON constant {name}")
    return json.loads(b.decode("utf-8"), parse_constant=bad_constant)


def dwc_single(dwc: str, path: str, timeout: float) -> DwcResult:
    rc, out, err = run_dwc(dwc, [path], timeout)
    if rc != 0:
        return DwcResult(rc, None, err.strip())
    try:
        data = parse_json(out)
    except ValueError as exc:
        return DwcResult(-2, None, f"stdout is not valid JSON: {exc}")
    if not isinstance(data, dict):
        return DwcResult(-2, None, f"stdout is a JSON {type(data).__name__}, expected an object")
    return DwcResult(0, data, err.strip())


def dwc_batch(dwc: str, paths: list[str], timeout: float) -> dict[str, DwcResult]:
    """Run one process for the batch; when anything is off, one process per file."""
    if len(paths) > 1:
        rc, out, err = run_dwc(dwc, paths, timeout * len(paths))
        if rc == 0:
            try:
                data = parse_json(out)
            except ValueError:
                data = None
            if isinstance(data, list) and len(data) == len(paths) and all(isinstance(d, dict) for d in data):
                return {p: DwcResult(0, d, "") for p, d in zip(paths, data)}
    return {p: dwc_single(dwc, p, timeout) for p in paths}


def make_batches(files: list[str], max_files: int, max_bytes: int) -> list[list[str]]:
    batches: list[list[str]] = []
    cur: list[str] = []
    size = 0
    for p in files:
        s = os.path.getsize(p)
        if cur and (len(cur) >= max_files or size + s > max_bytes):
            batches.append(cur)
            cur, size = [], 0
        cur.append(p)
        size += s
    if cur:
        batches.append(cur)
    return batches


# --------------------------------------------------------------------------------------------
# normalisation: each rule is described, with its reason, in docs/conformance.md; a rule can
# be switched off with --no-rule NAME to see what it hides.

RULES = {
    "S1": "trailing spaces/NULs (and leading spaces of AE CS DS IS LO SH) are insignificant",
    "S2": 'null and "" are the same empty value',
    "P1": "an empty PN component group is the same as an absent one",
    "E1": "a Value of only empty values (or []) is the same as no Value",
    "N1": "numbers compare by value; FL after rounding to binary32",
    "N2": "DS IS SV UV may be JSON strings (CP 1861)",
    "V1": "VR not in the file (Implicit VR) or UN: UN or the binary dictionary VR compares by raw bytes",
    "B2": "binary values over 64 KiB are elided on both sides",
    "B3": "encapsulated Pixel Data: a trailing Sequence Delimitation Item is ignored",
    "U1": "elements pydicom cannot convert to JSON are not compared",
}
DISABLED: set[str] = set()


def on(rule: str) -> bool:
    return rule not in DISABLED


def b64(s: str) -> bytes:
    return base64.b64decode("".join(s.split()), validate=False)


def norm_empty(s):
    if on("S2") and s == "":
        return None
    return s


def norm_string(vr: str, s):
    if not isinstance(s, str):
        return s
    if on("S1"):
        s = s.rstrip(" \x00")
        if vr in LEADING_SPACE_VRS:
            s = s.lstrip(" ")
    return norm_empty(s)


def norm_pn(v):
    if not isinstance(v, dict):
        return norm_empty(v) if isinstance(v, str) or v is None else ("not-an-object", v)
    out = {}
    for k, s in v.items():
        if k in PN_GROUPS and isinstance(s, str):
            if on("S1"):
                s = s.rstrip(" \x00")
            if s or not on("P1"):
                out[k] = s
        else:
            out[k] = s
    if not out and on("P1"):
        return None
    return out


def norm_number(vr: str, v):
    if v is None or isinstance(v, bool):
        return v if v is None else ("bool", v)
    if isinstance(v, str):
        if vr not in NUMBER_STRING_VRS or not on("N2"):
            return ("string", v)
        t = v.strip()
        if t == "":
            return norm_empty(v)
        try:
            v = int(t) if re.fullmatch(r"[+-]?\d+", t) else float(t)
        except ValueError:
            return ("string", v)
    if not isinstance(v, (int, float)):
        return ("not-a-number", v)
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    if not on("N1"):
        return v
    if vr == "FL":
        try:
            return struct.unpack("<f", struct.pack("<f", float(v)))[0]
        except OverflowError:
            return float(v)
    if isinstance(v, int) and vr in FLOAT_VRS:
        return float(v)
    if isinstance(v, float) and vr in INT_VRS and v.is_integer():
        return int(v)
    return v


def norm_value_list(vr: str, values: list):
    if vr == "PN":
        vals = [norm_pn(v) for v in values]
    elif vr in NUMBER_VRS:
        vals = [norm_number(vr, v) for v in values]
    elif vr == "AT":
        vals = [norm_empty(v) for v in values]
    else:
        vals = [norm_string(vr, v) for v in values]
    if on("E1") and all(v is None for v in vals):
        return None
    return vals


class Norm:
    """A normalised element: vr, kind ('empty', 'values', 'items', 'binary', 'bulk',
    'unverifiable', 'bad') and payload; alt_un is rule V1's (VRs, base64 raw bytes)."""

    __slots__ = ("vr", "kind", "payload", "alt_un")

    def __init__(self, vr, kind, payload, alt_un=None):
        self.vr, self.kind, self.payload, self.alt_un = vr, kind, payload, alt_un

    def show(self) -> str:
        if self.kind == "binary":
            b = self.payload
            if isinstance(b, tuple):
                return f"{self.vr} <{b[1]} bytes, elided>"
            head = b[:24].hex()
            return f"{self.vr} <{len(b)} bytes {head}{'...' if len(b) > 24 else ''}>"
        if self.kind == "items":
            return f"SQ <{len(self.payload)} items>"
        if self.kind == "empty":
            return f"{self.vr} <no Value>"
        s = json.dumps(self.payload, ensure_ascii=False, default=str)
        if len(s) > 160:
            s = s[:157] + "..."
        return f"{self.vr} {s}"


ITEM_TAG = b"\xfe\xff\x00\xe0"
SEQ_DELIM = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"


def strip_sequence_delimiter(data: bytes) -> bytes:
    """Encapsulated Pixel Data read as its items, without a Sequence Delimitation Item at
    the end (rule B3)."""
    off = 0
    n = len(data)
    while off + 8 <= n and data[off:off + 4] == ITEM_TAG:
        off += 8 + int.from_bytes(data[off + 4:off + 8], "little")
    if off + 8 == n and data[off:] == SEQ_DELIM:
        return data[:off]
    return data


def norm_element(e, key: str = "") -> Norm:
    if not isinstance(e, dict):
        return Norm("?", "bad", e)
    if UNVERIFIABLE in e:
        return Norm("?", "unverifiable", e[UNVERIFIABLE])
    vr = str(e.get("vr", "?"))
    alt = e.get(ALT_UN) if on("V1") else None
    if "BulkDataURI" in e:
        return Norm(vr, "bulk", e["BulkDataURI"], alt)
    if "InlineBinary" in e:
        if not isinstance(e["InlineBinary"], str):
            return Norm(vr, "bad", e)
        try:
            data = b64(e["InlineBinary"])  # rule B1: compare bytes, not base64 text
        except (ValueError, TypeError) as exc:
            return Norm(vr, "bad", f"InlineBinary is not base64: {exc}")
        if not data and on("E1"):
            return Norm(vr, "empty", None, alt)
        if key == "7FE00010" and data[:4] == ITEM_TAG and on("B3"):
            data = strip_sequence_delimiter(data)
        if len(data) > ELIDE_BYTES and on("B2"):
            return Norm(vr, "binary", ("elided", len(data)), alt)
        return Norm(vr, "binary", data, alt)
    if "Value" not in e:
        return Norm(vr, "empty", None, alt)
    values = e["Value"]
    if not isinstance(values, list):
        return Norm(vr, "bad", e)
    if vr == "SQ":
        return Norm(vr, "items", values, alt)
    vals = norm_value_list(vr, values)
    if vals is None or (not vals and on("E1")):
        return Norm(vr, "empty", None, alt)
    return Norm(vr, "values", vals, alt)


def same_value(x, y) -> bool:
    if isinstance(x, str) and isinstance(y, str):  # pydicom's UID, PersonName... are str
        return str(x) == str(y)
    if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
        return x == y
    return type(x) is type(y) and x == y


# --------------------------------------------------------------------------------------------
# comparison


class Diff:
    def __init__(self, path: str, what: str, dwc: str, ref: str):
        self.path, self.what, self.dwc, self.ref = path, what, dwc, ref

    def __str__(self):
        return f"{self.path}: {self.what}\n      dwc:     {self.dwc}\n      pydicom: {self.ref}"


class Comparison:
    def __init__(self, limit: int):
        self.limit = limit
        self.diffs: list[Diff] = []
        self.unverified: list[str] = []

    def full(self) -> bool:
        return len(self.diffs) >= self.limit

    def add(self, *a) -> None:
        if not self.full():
            self.diffs.append(Diff(*a))

    def datasets(self, dwc: dict, ref: dict, where: str) -> None:
        for key in sorted(set(dwc) | set(ref)):
            if self.full():
                return
            path = where + key
            if key not in ref:
                self.add(path, "only in dwc", norm_element(dwc[key], key).show(), "<absent>")
                continue
            r = norm_element(ref[key], key)
            if r.kind == "unverifiable":
                if on("U1"):
                    self.unverified.append(path)
                else:
                    self.add(path, "pydicom cannot convert it", json.dumps(dwc.get(key))[:160], r.payload)
                continue
            if key not in dwc:
                self.add(path, "missing in dwc", "<absent>", r.show())
                continue
            self.elements(norm_element(dwc[key], key), r, key, path)

    def elements(self, d: Norm, r: Norm, key: str, path: str) -> None:
        if d.kind == "bad":
            self.add(path, "malformed element in dwc output", json.dumps(d.payload)[:160], r.show())
            return
        if r.alt_un is not None and d.vr != r.vr and d.vr in r.alt_un[0]:
            # Rule V1: compare dwc's bytes with the raw bytes pydicom read.
            r = norm_element({"vr": d.vr, "InlineBinary": r.alt_un[1]}, key)
        if d.vr != r.vr:
            what = "VR differs"
            if d.kind == r.kind == "binary":
                what += " (value bytes equal)" if d.payload == r.payload else " and so does the value"
            self.add(path, what, d.show(), r.show())
            return
        if d.kind != r.kind:
            self.add(path, "value differs", d.show(), r.show())
            return
        if d.kind == "empty":
            return
        if d.kind == "bulk":
            if d.payload != r.payload:
                self.add(path, "BulkDataURI differs", d.show(), r.show())
            return
        if d.kind == "binary":
            if d.payload != r.payload:
                what = "binary value differs"
                if not isinstance(d.payload, tuple) and not isinstance(r.payload, tuple):
                    what += f" (dwc {len(d.payload)} bytes, pydicom {len(r.payload)} bytes)"
                self.add(path, what, d.show(), r.show())
            return
        if d.kind == "items":
            if len(d.payload) != len(r.payload):
                self.add(path, "number of items differs", d.show(), r.show())
                return
            for i, (di, ri) in enumerate(zip(d.payload, r.payload)):
                if not isinstance(di, dict):
                    self.add(f"{path}[{i}]", "item is not an object", json.dumps(di)[:160], "object")
                    continue
                self.datasets(di, ri, f"{path}[{i}].")
            return
        if len(d.payload) != len(r.payload) or not all(map(same_value, d.payload, r.payload)):
            self.add(path, "value differs", d.show(), r.show())


# --------------------------------------------------------------------------------------------
# main


class Outcome:
    def __init__(self, label: str, status: str, lines: list[str], diff_paths=(), rejected=False):
        self.label, self.status, self.lines = label, status, lines
        self.diff_paths, self.rejected = list(diff_paths), rejected


def check_file(label: str, ref: Reference, res: DwcResult, args) -> Outcome:
    if ref.status != "ok":
        if res.rc == 0:
            return Outcome(label, "skipped", [f"{ref.reason}; dwc read it (exit 0)"])
        return Outcome(label, "skipped", [f"{ref.reason}; dwc: exit {res.rc}: {res.stderr[:200]}"])
    if res.rc != 0:
        return Outcome(label, "failed", [f"dwc rejects a file pydicom reads: exit {res.rc}: {res.stderr[:300]}"],
                       rejected=True)
    # Collect many differences (a listed file must differ only where its row says), show few.
    cmp = Comparison(max(args.max_diffs, 1000))
    cmp.datasets(res.data, ref.data, "")
    diffs = cmp.diffs
    lines = [str(d) for d in diffs[:args.max_diffs]]
    if len(diffs) > args.max_diffs:
        more = "more" if not cmp.full() else "or more"
        lines.append(f"({len(diffs) - args.max_diffs} {more} differences; --max-diffs N shows them)")
    notes = [f"note: {n}" for n in ref.notes]
    return Outcome(label, "failed" if diffs else "passed", lines + notes if diffs else notes,
                   [d.path for d in diffs])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="Compare `dwc dump --format json` with pydicom's DICOM JSON for every file "
                    "pydicom and pydicom-data ship. See docs/conformance.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 all failures are listed in docs/conformance.md, 1 an unlisted "
               "failure, 2 setup error.")
    ap.add_argument("--dwc", default=os.path.join(ROOT, ".build", "release", "dwc"),
                    help="dwc binary (default: .build/release/dwc of this package)")
    ap.add_argument("--known", default=DEFAULT_LIST,
                    help="markdown file listing known differences (default: docs/conformance.md)")
    ap.add_argument("--only", action="append", default=[], metavar="SUBSTR",
                    help="check only files whose label contains SUBSTR (repeatable)")
    ap.add_argument("--batch-files", type=int, default=32, help="files per dwc process (default 32)")
    ap.add_argument("--batch-bytes", type=int, default=32 << 20,
                    help="file bytes per dwc process (default 32 MiB)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per file for dwc (default 60)")
    ap.add_argument("--jobs", type=int, default=2, help="dwc processes at once (default 2)")
    ap.add_argument("--max-diffs", type=int, default=5, help="differences shown per file (default 5)")
    ap.add_argument("--no-rule", action="append", default=[], metavar="RULE",
                    choices=sorted(RULES),
                    help="switch a normalisation rule off (repeatable): " +
                         "; ".join(f"{k}: {v}" for k, v in RULES.items()))
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="also list skipped files, notes and known differences in full")
    args = ap.parse_args(argv)

    DISABLED.update(args.no_rule)
    dwc = args.dwc
    if not (os.path.isfile(dwc) and os.access(dwc, os.X_OK)):
        print(f"conformance: no dwc binary at {dwc} (build it, or pass --dwc PATH)", file=sys.stderr)
        return 2
    ensure_python_packages()
    import pydicom

    files = collect_files()
    if args.only:
        files = [(lbl, p) for lbl, p in files if any(s in lbl for s in args.only)]
    if not files:
        print("conformance: no files selected", file=sys.stderr)
        return 2
    known = read_known(args.known)

    # dwc runs in worker threads (subprocesses) while pydicom builds the references here.
    batches = make_batches([p for _, p in files], args.batch_files, args.batch_bytes)
    results: dict[str, DwcResult] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(dwc_batch, dwc, b, args.timeout) for b in batches]
        refs = {p: pydicom_reference(p) for _, p in files}
        for f in futures:
            results.update(f.result())

    outcomes = [check_file(lbl, refs[p], results[p], args) for lbl, p in files]

    print(f"dwc: {dwc}; pydicom {pydicom.__version__}; {len(files)} files")
    n_pass = n_fail = n_skip = n_known = 0
    unlisted: list[str] = []
    for o in outcomes:
        entry = known_entry(o.label, known)
        if o.status == "passed":
            n_pass += 1
            if entry:
                print(f"STALE  {o.label}: passes but is listed in {os.path.relpath(args.known)} "
                      f"as `{entry.entry}`; remove the row")
            if args.verbose:
                for line in o.lines:
                    print(f"  {o.label}: {line}")
            continue
        if o.status == "skipped":
            n_skip += 1
            if args.verbose:
                print(f"SKIP   {o.label}: {o.lines[0]}")
            continue
        uncovered = entry.covers(o.diff_paths, o.rejected) if entry else None
        if entry and not uncovered:
            n_known += 1
            print(f"KNOWN  {o.label} (listed: {entry.text[:100]})")
            if args.verbose:
                for line in o.lines:
                    print("    " + line.replace("\n", "\n    "))
            continue
        n_fail += 1
        unlisted.append(o.label)
        print(f"FAIL   {o.label}")
        if entry:
            print(f"    listed as `{entry.entry}` for {', '.join(entry.elements or [])}, but also differs in: "
                  f"{', '.join(uncovered[:8])}")
        for line in o.lines:
            print("    " + line.replace("\n", "\n    "))
    if n_known:
        print(f"known differences listed in {os.path.relpath(args.known)}: {n_known} files")
    print(f"conformance: {n_pass} passed, {n_fail} failed, {n_skip} skipped")
    return 1 if unlisted else 0


if __name__ == "__main__":
    sys.exit(main())
