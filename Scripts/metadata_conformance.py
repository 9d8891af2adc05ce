#!/usr/bin/env python3
"""`dwc metadata` and `dwc retrieve-bulkdata` against pydicom, for every file pydicom ships.

For each file (the list of Scripts/conformance.py: pydicom.data.get_testdata_files() and
get_charset_files()):

  1. `dwc metadata --compact FILE...` (many files per process) must give the DICOM JSON that
     pydicom's `DataElement.to_json_dict(bulk_data_element_handler, bulk_data_threshold)` gives
     for `dcmread(FILE)`, modulo the normalisation rules of Scripts/conformance.py (S1 S2 P1 E1
     N1 N2 V1 U1, docs/conformance.md), which are imported from it, not copied.  Rules B2 and B3
     are off here: every binary value is compared in full, and encapsulated Pixel Data must be
     exactly pydicom's bytes (the items, without the Sequence Delimitation Item).
  2. EVERY BulkDataURI resolves through `dwc retrieve-bulkdata URI...` (many URIs per process)
     to exactly the bytes pydicom holds for that element; pydicom's own bulk values (its handler
     records `elem.value`) and InlineBinary values compare by their bytes (rule W1 below).
  3. dwc's choice between InlineBinary and BulkDataURI follows its documented rule: Pixel Data
     (7FE0,0010/0008/0009, at any depth) always by reference; other binary values by reference
     exactly when longer than the inline threshold (1024 bytes); URIs name the file given.

Rule W1: an InlineBinary and a BulkDataURI are equal when they stand for the same bytes.
pydicom's `bulk_data_threshold` counts base64 characters (a value goes to the handler when
longer than (threshold // 4) * 3 bytes), dwc's --inline-threshold counts bytes, and dwc always
refers to pixel data; where each side draws the line is a choice, the bytes are not.

Output: a FAIL block per failing file, then `metadata-conformance: N passed, M failed, K skipped`.
Exit status: 0 when every failure is listed under "Known differences" in docs/wado.md, 1
otherwise, 2 on setup errors.  Usage:

    python3 Scripts/metadata_conformance.py --dwc .build/debug/dwc [-v] [--only CT_small]
"""
from __future__ import annotations

import argparse
import base64
import concurrent.futures
import json
import os
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conformance as C  # noqa: E402  (the shared rules, file list and reference reader)

ROOT = C.ROOT
KNOWN_LIST = os.path.join(ROOT, "docs", "wado.md")
THRESHOLD = 1024                    # dwc metadata's default --inline-threshold (bytes)
PYDICOM_THRESHOLD = 1368            # pydicom: bulk above (1368 // 4) * 3 = 1026 bytes
PIXEL_KEYS = {"7FE00010", "7FE00008", "7FE00009"}
TOKEN = "pydicom-bulk:"


# --------------------------------------------------------------------------------------------
# the reference: conformance.py's reader, with pydicom's bulk data handler switched on


def pydicom_reference(path: str):
    """conformance.pydicom_reference (same reading, same V1/U1 bookkeeping), but each element
    goes through `to_json_dict(handler, PYDICOM_THRESHOLD)`; the handler records the value
    pydicom holds and returns a token that stands for it."""
    from pydicom.dataelem import DataElement

    store: list[bytes] = []

    def handler(elem) -> str:
        value = elem.value
        store.append(bytes(value) if not isinstance(value, bytes) else value)
        return f"{TOKEN}{len(store) - 1}"

    original = DataElement.to_json_dict

    def with_handler(self, _handler, _threshold):
        return original(self, handler, PYDICOM_THRESHOLD)

    DataElement.to_json_dict = with_handler
    try:
        ref = C.pydicom_reference(path)
    finally:
        DataElement.to_json_dict = original
    if ref.status == "ok":
        replace_tokens(ref.data, store)
    return ref


def replace_tokens(obj: dict, store: list[bytes]) -> None:
    for element in obj.values():
        if not isinstance(element, dict):
            continue
        uri = element.get("BulkDataURI")
        if isinstance(uri, str) and uri.startswith(TOKEN):
            del element["BulkDataURI"]
            element["InlineBinary"] = base64.b64encode(store[int(uri[len(TOKEN):])]).decode()
        if element.get("vr") == "SQ":
            for item in element.get("Value") or []:
                if isinstance(item, dict):
                    replace_tokens(item, store)


# --------------------------------------------------------------------------------------------
# dwc


def run(cmd: list[str], timeout: float) -> tuple[int, bytes, str]:
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, b"", f"timed out after {timeout:.0f} s"
    except OSError as exc:
        return -3, b"", f"cannot run {cmd[0]}: {exc}"
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def metadata_batch(dwc: str, paths: list[str], timeout: float) -> dict[str, C.DwcResult]:
    """One `dwc metadata` for the batch; anything off (exit status, count): one per file."""
    def single(path: str) -> C.DwcResult:
        rc, out, err = run([dwc, "metadata", "--compact", path], timeout)
        if rc != 0:
            return C.DwcResult(rc, None, err.strip())
        try:
            data = C.parse_json(out)
        except ValueError as exc:
            return C.DwcResult(-2, None, f"stdout is not valid JSON: {exc}")
        if not (isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict)):
            return C.DwcResult(-2, None, "stdout is not an array of one object")
        return C.DwcResult(0, data[0], err.strip())

    if len(paths) > 1:
        rc, out, err = run([dwc, "metadata", "--compact", *paths], timeout * len(paths))
        if rc == 0:
            try:
                data = C.parse_json(out)
            except ValueError:
                data = None
            if isinstance(data, list) and len(data) == len(paths) and all(isinstance(d, dict) for d in data):
                return {p: C.DwcResult(0, d, "") for p, d in zip(paths, data)}
    return {p: single(p) for p in paths}


def walk_binary(obj: dict, where: str = ""):
    """(path, key, element) of every element with InlineBinary or BulkDataURI, at any depth."""
    for key in sorted(obj):
        element = obj[key]
        if not isinstance(element, dict):
            continue
        if "BulkDataURI" in element or "InlineBinary" in element:
            yield where + key, key, element
        if element.get("vr") == "SQ":
            for i, item in enumerate(element.get("Value") or []):
                if isinstance(item, dict):
                    yield from walk_binary(item, f"{where}{key}[{i}].")


def uri_length(uri: str) -> int | None:
    try:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query, strict_parsing=True)
        return int(query["length"][0])
    except (ValueError, KeyError, IndexError):
        return None


def resolve(dwc: str, uris: list[str], timeout: float) -> dict[str, bytes | str]:
    """Each URI's bytes (or an error message), many URIs per `dwc retrieve-bulkdata`."""
    result: dict[str, bytes | str] = {}
    chunks: list[list[str]] = []
    cur: list[str] = []
    size = 0
    for u in uris:
        n = uri_length(u) or 0
        if cur and (len(cur) >= 400 or size + n > 64 << 20):
            chunks.append(cur)
            cur, size = [], 0
        cur.append(u)
        size += n
    if cur:
        chunks.append(cur)
    for chunk in chunks:
        lengths = [uri_length(u) for u in chunk]
        rc, out, err = run([dwc, "retrieve-bulkdata", *chunk], timeout)
        if rc == 0 and None not in lengths and sum(lengths) == len(out):
            at = 0
            for u, n in zip(chunk, lengths):
                result[u] = out[at:at + n]
                at += n
            continue
        for u in chunk:  # one by one, so each URI gets its own verdict
            rc, out, err = run([dwc, "retrieve-bulkdata", u], timeout)
            n = uri_length(u)
            if rc != 0:
                result[u] = f"retrieve-bulkdata exit {rc}: {err.strip()[:200]}"
            elif n is None or n != len(out):
                result[u] = f"retrieve-bulkdata wrote {len(out)} bytes, the URI says {n}"
            else:
                result[u] = out
    return result


def check_references(path: str, obj: dict, resolved: dict[str, bytes | str]) -> list[str]:
    """Rule 3 (where dwc draws the line, and what the URIs name); then each BulkDataURI is
    replaced by the InlineBinary of its resolved bytes, for the comparison with pydicom."""
    problems: list[str] = []
    for where, key, element in walk_binary(obj):
        pixel = key in PIXEL_KEYS
        if "InlineBinary" in element:
            n = len(C.b64(element["InlineBinary"])) if isinstance(element["InlineBinary"], str) else -1
            if pixel:
                problems.append(f"{where}: Pixel Data inline ({n} bytes); dwc metadata refers to pixel data")
            elif n > THRESHOLD:
                problems.append(f"{where}: {n} bytes inline, above the {THRESHOLD}-byte threshold")
            continue
        uri = element["BulkDataURI"]
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme != "file" or urllib.parse.unquote(parts.path) != path:
            problems.append(f"{where}: BulkDataURI {uri[:120]} does not name {path}")
        value = resolved.get(uri, "not resolved")
        if isinstance(value, str):
            problems.append(f"{where}: BulkDataURI {uri[:120]} does not resolve: {value}")
            continue
        if not pixel and len(value) <= THRESHOLD:
            problems.append(f"{where}: {len(value)} bytes by reference, at or below the {THRESHOLD}-byte threshold")
        del element["BulkDataURI"]
        element["InlineBinary"] = base64.b64encode(value).decode()
    return problems


# --------------------------------------------------------------------------------------------
# main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Exit status: 0 all failures are listed in docs/wado.md, "
                                        "1 an unlisted failure, 2 setup error.")
    ap.add_argument("--dwc", default=os.path.join(ROOT, ".build", "release", "dwc"),
                    help="dwc binary (default: .build/release/dwc of this package)")
    ap.add_argument("--known", default=KNOWN_LIST, help="markdown file listing known differences")
    ap.add_argument("--only", action="append", default=[], metavar="SUBSTR",
                    help="check only files whose label contains SUBSTR (repeatable)")
    ap.add_argument("--batch-files", type=int, default=48, help="files per dwc metadata process")
    ap.add_argument("--batch-bytes", type=int, default=48 << 20, help="file bytes per dwc metadata process")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per file for dwc")
    ap.add_argument("--jobs", type=int, default=2, help="dwc processes at once")
    ap.add_argument("--max-diffs", type=int, default=5, help="differences shown per file")
    ap.add_argument("-v", "--verbose", action="store_true", help="also list skipped files and notes")
    args = ap.parse_args(argv)

    C.DISABLED.update({"B2", "B3"})
    dwc = args.dwc
    if not (os.path.isfile(dwc) and os.access(dwc, os.X_OK)):
        print(f"metadata-conformance: no dwc binary at {dwc} (build it, or pass --dwc PATH)", file=sys.stderr)
        return 2
    C.ensure_python_packages()
    import pydicom

    files = C.collect_files()
    if args.only:
        files = [(lbl, p) for lbl, p in files if any(s in lbl for s in args.only)]
    if not files:
        print("metadata-conformance: no files selected", file=sys.stderr)
        return 2
    known = C.read_known(args.known)

    # dwc metadata runs in worker threads (subprocesses) while pydicom builds the references.
    batches = C.make_batches([p for _, p in files], args.batch_files, args.batch_bytes)
    results: dict[str, C.DwcResult] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(metadata_batch, dwc, b, args.timeout) for b in batches]
        refs = {p: pydicom_reference(p) for _, p in files}
        for f in futures:
            results.update(f.result())

    # Every BulkDataURI of every file, resolved in as few processes as possible.
    uris = sorted({e["BulkDataURI"] for r in results.values() if r.rc == 0
                   for _, _, e in walk_binary(r.data) if "BulkDataURI" in e})
    uri_groups = [uris[i::max(1, args.jobs)] for i in range(max(1, args.jobs))]
    resolved: dict[str, bytes | str] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for part in pool.map(lambda g: resolve(dwc, g, args.timeout), uri_groups):
            resolved.update(part)
    n_bytes = sum(len(v) for v in resolved.values() if isinstance(v, bytes))

    print(f"dwc: {dwc}; pydicom {pydicom.__version__}; {len(files)} files; "
          f"{len(uris)} BulkDataURIs resolved ({n_bytes:,} bytes)")
    n_pass = n_fail = n_skip = n_known = 0
    unlisted: list[str] = []
    for label, path in files:
        ref, res = refs[path], results[path]
        problems: list[str] = []
        if ref.status == "ok" and res.rc == 0:
            problems = check_references(path, res.data, resolved)
        outcome = C.check_file(label, ref, res, args)
        if problems:
            outcome.status = "failed"
            outcome.lines = problems[:args.max_diffs] + outcome.lines
            outcome.diff_paths += [p.split(":")[0] for p in problems]
        entry = C.known_entry(label, known)
        if outcome.status == "passed":
            n_pass += 1
            if entry:
                print(f"STALE  {label}: passes but is listed in {os.path.relpath(args.known)}; remove the row")
            continue
        if outcome.status == "skipped":
            n_skip += 1
            if args.verbose:
                print(f"SKIP   {label}: {outcome.lines[0]}")
            continue
        uncovered = entry.covers(outcome.diff_paths, outcome.rejected) if entry else None
        if entry and not uncovered:
            n_known += 1
            print(f"KNOWN  {label} (listed: {entry.text[:100]})")
            continue
        n_fail += 1
        unlisted.append(label)
        print(f"FAIL   {label}")
        for line in outcome.lines:
            print("    " + line.replace("\n", "\n    "))
    if n_known:
        print(f"known differences listed in {os.path.relpath(args.known)}: {n_known} files")
    print(f"metadata-conformance: {n_pass} passed, {n_fail} failed, {n_skip} skipped")
    return 1 if unlisted else 0


if __name__ == "__main__":
    sys.exit(main())
