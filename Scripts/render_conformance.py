#!/usr/bin/env python3
"""`dwc render` against dcmtk's dcmj2pnm on pydicom's test files: the same VOI choice on both
sides, PGM/PPM output, every pixel within +/-1.

For each image (frame 1, as dcmj2pnm renders by default; for multi-frame images also the last
frame, `+F n` / `--frame n`, with min-max):
  grayscale: the first window (+Wi 1 / --use-window 1) when the file has one, the first VOI LUT
             (+Wl 1 / --use-voi-lut 1) when it has one, min-max (+Wm / --min-max-window) and no
             VOI stage (-W / --no-windowing);
  colour:    no options.
dcmj2pnm decodes uncompressed, RLE and JPEG data, dcml2pnm JPEG-LS. For JPEG 2000 neither can:
pydicom (with pylibjpeg-openjpeg) decompresses the file to Explicit VR Little Endian first, so
dcmtk still checks the rendering. Overlays are off on the dcmtk side (-O): dwc does not draw
them.

Differences that are explained are listed in docs/render.md (the table between the
render-conformance markers: file, choice, reason); anything else fails the run (exit 1).
Files neither tool can decode are skipped and listed.

Usage: python3 Scripts/render_conformance.py --dwc .build/debug/dwc [-v] [--only NAME]
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import pydicom
import pydicom.data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JPEG_LS = {"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"}
JPEG_2000 = {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.92",
             "1.2.840.10008.1.2.4.93", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
             "1.2.840.10008.1.2.4.203"}
CHOICES = {
    # name: (dcmtk flags, dwc flags)
    "window": (["+Wi", "1"], ["--use-window", "1"]),
    "voilut": (["+Wl", "1"], ["--use-voi-lut", "1"]),
    "minmax": (["+Wm"], ["--min-max-window"]),
    "none": (["-W"], ["--no-windowing"]),
    "colour": ([], []),
    # Explicit windows: a lung window written with a separate negative value, and the file's
    # first window through SIGMOID (filled in per file).
    "lung": (["+Ww", "-600", "1600"], ["--window", "-600,1600"]),
    "sigmoid": None,
}


def first_window(ds):
    """(centre, width) of the file's first top-level window, as text; None without one."""
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None
    c, w = ds.WindowCenter, ds.WindowWidth
    c = c[0] if isinstance(c, pydicom.multival.MultiValue) else c
    w = w[0] if isinstance(w, pydicom.multival.MultiValue) else w
    try:
        if float(w) <= 0:
            return None
        return repr(float(c)), repr(float(w))
    except (TypeError, ValueError):
        return None


def known_differences():
    """(file, choice) -> reason, from the table in docs/render.md."""
    path = os.path.join(ROOT, "docs", "render.md")
    known = {}
    if not os.path.exists(path):
        return known
    inside = False
    for line in open(path, encoding="utf-8"):
        if "render-conformance:known:start" in line:
            inside = True
        elif "render-conformance:known:end" in line:
            inside = False
        elif inside:
            m = re.match(r"\|\s*`([^`]+)`\s*\|\s*([^|]+?)\s*\|\s*(.+?)\s*\|\s*$", line)
            if m:
                for choice in m.group(2).split(","):
                    known[(m.group(1), choice.strip())] = m.group(3)
    return known


def read_pnm(data):
    """(width, height, channels, maxval, samples as a list of ints) of binary P5/P6."""
    fields = []
    i = 0
    while len(fields) < 4:
        while i < len(data) and data[i:i + 1].isspace():
            i += 1
        if data[i:i + 1] == b"#":
            while i < len(data) and data[i] != 10:
                i += 1
            continue
        j = i
        while j < len(data) and not data[j:j + 1].isspace():
            j += 1
        fields.append(data[i:j])
        i = j
    i += 1  # the single whitespace after maxval
    magic, width, height, maxval = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    channels = 1 if magic == b"P5" else 3
    body = data[i:]
    count = width * height * channels
    if maxval < 256:
        samples = list(body[:count])
    else:
        samples = [body[2 * k] << 8 | body[2 * k + 1] for k in range(count)]
    return width, height, channels, maxval, samples


def image_kind(ds):
    photometric = str(getattr(ds, "PhotometricInterpretation", "")).strip()
    samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    return "gray" if samples == 1 and photometric.startswith("MONOCHROME") else "colour"


def frame_voi(ds):
    """Whether frame 1 has a window and a VOI LUT (top level or functional groups)."""
    has_window = "WindowCenter" in ds and "WindowWidth" in ds
    has_lut = "VOILUTSequence" in ds
    for seq in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        if seq in ds and len(ds[seq].value) > 0:
            item = ds[seq].value[0]
            if "FrameVOILUTSequence" in item and len(item.FrameVOILUTSequence) > 0:
                voi = item.FrameVOILUTSequence[0]
                has_window = has_window or "WindowCenter" in voi
                has_lut = has_lut or "VOILUTSequence" in voi
    return has_window, has_lut


def run(cmd, timeout=120):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return -1, b"", "timeout"
    except FileNotFoundError:
        return -1, b"", f"{cmd[0]}: not found"


def dcmtk_input(path, ds, workdir):
    """The file dcmtk reads and the tool to use; JPEG 2000 decompressed by pydicom first."""
    syntax = str(ds.file_meta.TransferSyntaxUID)
    if syntax in JPEG_LS:
        return path, "dcml2pnm", None
    if syntax in JPEG_2000:
        try:
            full = pydicom.dcmread(path)
            full.decompress()
            out = os.path.join(workdir, os.path.basename(path) + ".unc.dcm")
            full.save_as(out, enforce_file_format=True)
            return out, "dcmj2pnm", "dcmtk renders pixels pydicom decoded (JPEG 2000)"
        except Exception as e:  # noqa: BLE001 - any failure means: no dcmtk reference
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            return None, None, f"pydicom cannot decompress it for dcmtk ({type(e).__name__}: {first})"
    return path, "dcmj2pnm", None


def compare(job):
    path, name, choice, dwc, dcmtk_path, tool, workdir, flags = job
    ours_path = os.path.join(workdir, f"{name}.{choice}.dwc.pnm")
    theirs_path = os.path.join(workdir, f"{name}.{choice}.dcmtk.pnm")
    t_flags, d_flags = flags
    status, _, err = run([dwc, "render", "-q", "--format", "pnm", *d_flags, path, ours_path])
    dwc_ok = status == 0
    t_status, _, t_err = run([tool, "-q", "-O", "+op", *t_flags, dcmtk_path, theirs_path])
    dcmtk_ok = t_status == 0 and os.path.exists(theirs_path)
    reference = "dcmtk"
    if not dcmtk_ok and dwc_ok and choice == "colour":
        # dcmtk has no segmented palettes: pydicom's apply_color_lut is the reference then.
        fallback = pydicom_palette(path)
        if fallback is not None:
            ow, oh, oc, _, ours = read_pnm(open(ours_path, "rb").read())
            return judge(name, choice, (ow, oh, oc), ours, fallback[:3], fallback[3], "pydicom apply_color_lut")
    if not dwc_ok and not dcmtk_ok:
        last = err.strip().splitlines()[-1] if err.strip() else ""
        return ("skip", name, choice, f"neither decodes (dwc exit {status}: {last})")
    if not dcmtk_ok:
        return ("skip", name, choice, f"{tool} cannot render it (exit {t_status}); dwc can")
    if not dwc_ok:
        return ("fail", name, choice, f"dwc exit {status}: {err.strip()}")
    ow, oh, oc, _, ours = read_pnm(open(ours_path, "rb").read())
    tw, th, tc, _, theirs = read_pnm(open(theirs_path, "rb").read())
    return judge(name, choice, (ow, oh, oc), ours, (tw, th, tc), theirs, reference)


def judge(name, choice, our_shape, ours, their_shape, theirs, reference):
    if our_shape != their_shape:
        return ("fail", name, choice, f"size/channels differ: dwc {'x'.join(map(str, our_shape))}, "
                                      f"{reference} {'x'.join(map(str, their_shape))}")
    worst = 0
    off = 0
    for a, b in zip(ours, theirs):
        d = abs(a - b)
        if d > 1:
            off += 1
        if d > worst:
            worst = d
    if worst <= 1:
        return ("pass", name, choice, f"max difference {worst} ({reference})")
    return ("fail", name, choice, f"{off} of {len(ours)} samples differ by more than 1 (max {worst}; {reference})")


def pydicom_palette(path):
    """(width, height, 3, samples) of frame 1 of a PALETTE COLOR image through pydicom's
    apply_color_lut, scaled to 8 bits; None when pydicom cannot."""
    try:
        from pydicom.pixels import apply_color_lut
        ds = pydicom.dcmread(path)
        if str(ds.PhotometricInterpretation).strip() != "PALETTE COLOR":
            return None
        arr = ds.pixel_array
        if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
            arr = arr[0]
        rgb = apply_color_lut(arr, ds)
        bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
        top = (1 << bits) - 1
        flat = [int(v * 255 / top + 0.5) for v in rgb.reshape(-1).tolist()]
        return int(ds.Columns), int(ds.Rows), 3, flat
    except Exception:  # noqa: BLE001 - no pydicom reference either
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dwc", default=os.path.join(ROOT, ".build", "debug", "dwc"))
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--only", help="only files whose name contains this")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    if not shutil.which("dcmj2pnm"):
        print("render-conformance: dcmj2pnm not found (apt-get install dcmtk)", file=sys.stderr)
        return 2
    dwc = os.path.abspath(args.dwc)
    known = known_differences()
    start = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="dwc-render-conf-")
    jobs = []
    skipped = []
    seen = set()
    for path in sorted(set(pydicom.data.get_testdata_files())):
        name = os.path.basename(path)
        if args.only and args.only not in name:
            continue
        if name in seen:
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=False, defer_size=256)
        except Exception:  # noqa: BLE001 - not DICOM, or not readable: no image to render
            continue
        if "PixelData" not in ds or "Rows" not in ds or not hasattr(ds, "file_meta") \
                or "TransferSyntaxUID" not in ds.file_meta:
            continue
        seen.add(name)
        dcmtk_path, tool, note = dcmtk_input(path, ds, workdir)
        if dcmtk_path is None:
            skipped.append((name, "-", note))
            continue
        flags = {}
        if image_kind(ds) == "gray":
            has_window, has_lut = frame_voi(ds)
            choices = (["window"] if has_window else []) + (["voilut"] if has_lut else []) + ["minmax", "none"]
            if float(getattr(ds, "RescaleIntercept", 0) or 0) < 0:
                choices.append("lung")
            window = first_window(ds)
            if window and os.path.getsize(path) < 2_000_000:
                choices.append("sigmoid")
                flags["sigmoid"] = (["+Ww", window[0], window[1], "+Wfs"], [f"--window={window[0]},{window[1]},SIGMOID"])
        else:
            choices = ["colour"]
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1) if str(getattr(ds, "NumberOfFrames", "1")).isdigit() else 1
        if frames > 1:
            # The last frame, to check frame addressing (min-max for grayscale).
            base_t, base_d = CHOICES["minmax" if image_kind(ds) == "gray" else "colour"]
            choices.append("last")
            flags["last"] = (base_t + ["+F", str(frames)], base_d + ["--frame", str(frames)])
        for choice in choices:
            jobs.append((path, name, choice, dwc, dcmtk_path, tool, workdir, flags.get(choice) or CHOICES[choice]))

    passed = failed = listed = 0
    unlisted = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for outcome, name, choice, detail in pool.map(compare, jobs):
            reason = known.get((name, choice)) or known.get((name, "*"))
            if outcome == "pass":
                passed += 1
                if args.verbose:
                    print(f"ok    {name} [{choice}] {detail}")
            elif outcome == "skip":
                skipped.append((name, choice, detail))
            elif reason:
                listed += 1  # an explained difference (docs/render.md), not a failure
                print(f"known {name} [{choice}] {detail} -- docs/render.md: {reason}")
            else:
                failed += 1
                unlisted.append((name, choice, detail))
                print(f"FAIL  {name} [{choice}] {detail}")
    for name, choice, detail in skipped:
        print(f"skip  {name} [{choice}] {detail}")
    shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - start
    print(f"({len(jobs)} comparisons in {elapsed:.0f} s; {listed} failures listed in docs/render.md, "
          f"{len(unlisted)} not listed)")
    # "failed" counts only what is not explained, as the other conformance scripts do, so the
    # summary line agrees with the exit status.
    print(f"render-conformance: {passed} passed, {failed} failed, {len(skipped)} skipped")
    return 1 if unlisted else 0


if __name__ == "__main__":
    sys.exit(main())
