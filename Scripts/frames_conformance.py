#!/usr/bin/env python3
"""Every frame of every pydicom test file with pixel data, retrieved by `dwc retrieve-frames`,
must be byte-equal to what pydicom holds for that frame: `pydicom.encaps.generate_frames` for
encapsulated data, slicing of PixelData for native data (byte-swapped to little endian for big
endian files, and bit-sliced for 1-bit data, since dwc delivers frames as WADO-RS does).

Known, explained differences are listed in docs/conformance.md (section "Frames"); anything else
fails the run. Usage: python3 Scripts/frames_conformance.py --dwc .build/debug/dwc
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import warnings

import pydicom
import pydicom.data
from pydicom.encaps import generate_frames

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def known_differences():
    path = os.path.join(ROOT, "docs", "conformance.md")
    known = set()
    in_frames = False
    if not os.path.exists(path):
        return known
    for line in open(path, encoding="utf-8"):
        if line.startswith("## "):
            in_frames = line.strip().lower().startswith("## frames")
        elif in_frames:
            m = re.match(r"\|\s*`([^`]+)`", line)
            if m:
                known.add(m.group(1))
    return known


def expected_frames(ds):
    """pydicom's frames, as WADO-RS delivers them; None when pydicom has no opinion."""
    if "PixelData" not in ds:
        return None
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    syntax = ds.file_meta.TransferSyntaxUID
    if syntax.is_encapsulated:
        return list(generate_frames(ds.PixelData, number_of_frames=frames))
    rows, cols = int(ds.Rows), int(ds.Columns)
    samples = int(getattr(ds, "SamplesPerPixel", 1))
    if getattr(ds, "PhotometricInterpretation", "") == "YBR_FULL_422" and samples == 3:
        samples = 2  # two chroma samples per two pixels (PS3.3 C.7.6.3.1.2)
    bits = int(ds.BitsAllocated)
    data = bytes(ds.PixelData)
    if not syntax.is_little_endian and bits == 8 and ds["PixelData"].VR == "OW":
        # 8-bit samples in big endian 16-bit words: little endian swaps each word (as pydicom's
        # pixel_array reads them).
        data = b"".join(data[i:i + 2][::-1] for i in range(0, len(data), 2))
    frame_bits = rows * cols * samples * bits
    result = []
    for k in range(frames):
        first, last = k * frame_bits, (k + 1) * frame_bits
        if (last + 7) // 8 > len(data):
            break
        if bits == 1:
            value = int.from_bytes(data[first // 8:(last + 7) // 8], "little") >> (first % 8)
            value &= (1 << frame_bits) - 1
            result.append(value.to_bytes((frame_bits + 7) // 8, "little"))
            continue
        frame = data[first // 8:last // 8]
        if not syntax.is_little_endian and bits > 8:
            width = bits // 8
            frame = b"".join(frame[i:i + width][::-1] for i in range(0, len(frame), width))
        result.append(frame)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dwc", default=os.path.join(ROOT, ".build", "release", "dwc"))
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # pydicom warns about the defective files on purpose
    known = known_differences()
    files = sorted(set(pydicom.data.get_testdata_files()))
    passed = failed = skipped = 0
    unexplained = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            name = os.path.basename(path)
            try:
                ds = pydicom.dcmread(path)
                expected = expected_frames(ds)
            except Exception:
                skipped += 1  # pydicom cannot read it: no oracle
                continue
            if not expected:
                skipped += 1
                continue
            out = os.path.join(tmp, name)
            os.makedirs(out)
            run = subprocess.run([args.dwc, "retrieve-frames", "-q", path, "-o", out, "--name", "{frame}.{ext}"],
                                 capture_output=True, text=True)
            problem = None
            if run.returncode != 0:
                problem = f"exit {run.returncode}: {run.stderr.strip()[:200]}"
            else:
                got = {int(f.split(".")[0]): open(os.path.join(out, f), "rb").read() for f in os.listdir(out)}
                if len(got) != len(expected):
                    problem = f"{len(got)} frames, pydicom has {len(expected)}"
                else:
                    for k, frame in enumerate(expected, start=1):
                        if got.get(k) != frame:
                            problem = f"frame {k}: {len(got.get(k, b''))} bytes differ from pydicom's {len(frame)}"
                            break
            if problem is None:
                passed += 1
                if args.verbose:
                    print(f"ok     {name} ({len(expected)} frames)")
            elif name in known:
                passed += 1
                print(f"known  {name}: {problem}")
            else:
                failed += 1
                unexplained.append(name)
                print(f"FAIL   {name}: {problem}")
    print(f"frames-conformance: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
