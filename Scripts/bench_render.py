#!/usr/bin/env python3
"""Rendering and decoding, measured beside dcmtk and pydicom (issue 5).

1. Whole processes, medians of --runs interleaved runs (page cache warm):
   - a 512x512 16-bit CT (pydicom's 693_UNCR.dcm: real CT, 14 bits stored, rescale, a window)
     to an 8-bit PNG with the file's window: `dwc render`, `dcmj2pnm +on +Wi 1`, and
     pydicom + Pillow (apply_modality_lut, apply_voi_lut, scaled to 8 bits, PNG level 1);
   - one 256x256 JPEG tile (frame 10000) of the 20,000-frame whole-slide image to PNG:
     `dwc render --frame`, `dcmj2pnm +on +F`, and pydicom's pixel_array(path, index=) + Pillow.
   Goals: dwc <= 1.0x dcmj2pnm's time on the CT, <= 0.2x on the slide tile.
2. Decode throughput (frames/s, decoding only, frames already in memory) for JPEG Baseline,
   JPEG 2000, RLE, JPEG Lossless SV1 and JPEG-LS: `dwc bench decode` beside pydicom with the
   pylibjpeg plugins on the same frames. The lossless CT fixtures are made from the CT with
   dcmtk (dcmcrle, dcmcjpeg +e1, dcmcjpls).

Writes the table between <!-- bench:render:start --> and <!-- bench:render:end --> in
docs/benchmarks.md. Usage: python3 Scripts/bench_render.py --dwc .build/release/dwc
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import pydicom
import pydicom.data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PY_CT = r"""
import sys
import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from PIL import Image
ds = pydicom.dcmread(sys.argv[1])
arr = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds, index=0).astype(np.float64)
lo, hi = arr.min(), arr.max()
out = ((arr - lo) / (hi - lo if hi > lo else 1) * 255 + 0.5).astype(np.uint8)
Image.fromarray(out).save(sys.argv[2], compress_level=1)
"""

PY_TILE = r"""
import sys
from pydicom.pixels import pixel_array
from PIL import Image
arr = pixel_array(sys.argv[1], index=int(sys.argv[2]) - 1)
Image.fromarray(arr).save(sys.argv[3], compress_level=1)
"""

PY_DECODE = r"""
import json, sys, time
import pydicom
from pydicom.pixels import get_decoder
path, frames, rounds = sys.argv[1], [int(x) - 1 for x in sys.argv[2].split(",")], int(sys.argv[3])
ds = pydicom.dcmread(path)
decoder = get_decoder(ds.file_meta.TransferSyntaxUID)
decoder.as_array(ds, index=frames[0], decoding_plugin="pylibjpeg")  # warm up
times = []
for _ in range(rounds):
    for k in frames:
        t = time.perf_counter()
        decoder.as_array(ds, index=k, decoding_plugin="pylibjpeg")
        times.append(time.perf_counter() - t)
result = {"decoded": len(times), "seconds": sum(times), "frames_per_s": len(times) / sum(times),
          "median_us_per_frame": sorted(times)[len(times) // 2] * 1e6}
# The codec alone, on the same frames' bytes: pylibjpeg's libjpeg, openjpeg, rle.
from pydicom.encaps import generate_frames
import itertools
nf = int(getattr(ds, "NumberOfFrames", 1) or 1)
raw = list(itertools.islice(generate_frames(ds.PixelData, number_of_frames=nf), max(frames) + 1))
chosen = [bytes(raw[k]) for k in frames]
syntax = str(ds.file_meta.TransferSyntaxUID)
if syntax == "1.2.840.10008.1.2.5":
    import rle
    opts = dict(rows=ds.Rows, columns=ds.Columns, bits_allocated=ds.BitsAllocated,
                samples_per_pixel=getattr(ds, "SamplesPerPixel", 1))
    codec = lambda b: rle.decode_pixel_data(b, version=2, **opts)
elif syntax.startswith("1.2.840.10008.1.2.4.9") or syntax.startswith("1.2.840.10008.1.2.4.20"):
    import openjpeg
    codec = openjpeg.decode
else:
    import libjpeg
    codec = libjpeg.decode
codec(chosen[0])
times = []
for _ in range(rounds):
    for b in chosen:
        t = time.perf_counter()
        codec(b)
        times.append(time.perf_counter() - t)
result["codec_frames_per_s"] = len(times) / sum(times)
print(json.dumps(result))
"""


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def timed_rounds(commands, runs):
    """Median wall time of each named command, run interleaved `runs` times after a warm-up."""
    samples = {name: [] for name in commands}
    for name, cmd in commands.items():
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(runs):
        for name, cmd in commands.items():
            t = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            samples[name].append(time.perf_counter() - t)
    return {name: statistics.median(v) for name, v in samples.items()}


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()}"


def decode_command(dwc, sample):
    """`bench decode` once registered under bench; a top-level `decode` before that."""
    for cmd in ([dwc, "bench", "decode"], [dwc, "decode"]):
        if subprocess.run(cmd + ["--rounds", "1", sample], capture_output=True).returncode == 0:
            return cmd
    sys.exit("bench_render: dwc has no `bench decode` subcommand")


def make_fixtures(work, corpus):
    ct_source = pydicom.data.get_testdata_file("693_UNCR.dcm")
    if ct_source is None:
        sys.exit("bench_render: pydicom's 693_UNCR.dcm is missing (pip install pydicom-data)")
    ct = os.path.join(work, "ct.dcm")
    shutil.copy(ct_source, ct)
    fixtures = {"ct": ct, "wsi": os.path.join(corpus, "wsi", "bot", "wsi_jpeg_bot.dcm"),
                "wsi_j2k": os.path.join(corpus, "wsi", "j2k", "wsi_j2k.dcm"),
                "ct_j2k": pydicom.data.get_testdata_file("693_J2KR.dcm")}
    for name, cmd in [("ct_rle", ["dcmcrle"]), ("ct_jll", ["dcmcjpeg", "+e1"]), ("ct_jls", ["dcmcjpls"])]:
        out = os.path.join(work, name + ".dcm")
        run(cmd + [ct, out])
        fixtures[name] = out
    for name, path in fixtures.items():
        if not path or not os.path.exists(path):
            sys.exit(f"bench_render: fixture {name} missing ({path}); make the corpus with ../shared/bench/make_corpus.py")
    return fixtures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dwc", default=os.path.join(ROOT, ".build", "release", "dwc"))
    ap.add_argument("--corpus", default="/tmp/dwc-corpus")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--tile", type=int, default=10000, help="frame of the slide to render")
    ap.add_argument("--no-write", action="store_true", help="print the table, leave docs/ alone")
    args = ap.parse_args()
    dwc = os.path.abspath(args.dwc)
    work = tempfile.mkdtemp(prefix="dwc-bench-render-")
    try:
        fx = make_fixtures(work, args.corpus)
        py_ct = os.path.join(work, "ct_pillow.py")
        py_tile = os.path.join(work, "tile_pillow.py")
        py_decode = os.path.join(work, "decode_pydicom.py")
        for path, text in [(py_ct, PY_CT), (py_tile, PY_TILE), (py_decode, PY_DECODE)]:
            with open(path, "w") as f:
                f.write(text)
        out = lambda name: os.path.join(work, name)  # noqa: E731

        ct_times = timed_rounds({
            "dwc": [dwc, "render", fx["ct"], out("ct_dwc.png")],
            "dcmj2pnm": ["dcmj2pnm", "+on", "+Wi", "1", fx["ct"], out("ct_dcmtk.png")],
            "pydicom": [sys.executable, py_ct, fx["ct"], out("ct_pillow.png")],
        }, args.runs)
        tile_times = timed_rounds({
            "dwc": [dwc, "render", "--frame", str(args.tile), fx["wsi"], out("tile_dwc.png")],
            "dcmj2pnm": ["dcmj2pnm", "+on", "+F", str(args.tile), fx["wsi"], out("tile_dcmtk.png")],
            "pydicom": [sys.executable, py_tile, fx["wsi"], str(args.tile), out("tile_pillow.png")],
        }, max(3, args.runs // 2))

        decode = decode_command(dwc, fx["ct_rle"])
        decode_rows = []
        for label, key, frames, rounds in [
            ("JPEG Baseline (slide tiles, 256² RGB 4:2:2)", "wsi", "1-200", 3),
            ("JPEG 2000 lossy (slide tiles, 256² RGB ICT)", "wsi_j2k", "1-100", 2),
            ("JPEG 2000 lossless (CT 512², 16-bit)", "ct_j2k", "1", 20),
            ("RLE Lossless (CT 512², 16-bit)", "ct_rle", "1", 100),
            ("JPEG Lossless SV1 (CT 512², 16-bit)", "ct_jll", "1", 30),
            ("JPEG-LS lossless (CT 512², 16-bit)", "ct_jls", "1", 30),
        ]:
            ours = json.loads(run(decode + ["--frames", frames, "--rounds", str(rounds), fx[key]]).stdout.strip().splitlines()[-1])
            first, _, last = frames.partition("-")
            listed = ",".join(str(k) for k in range(int(first), int(last or first) + 1))
            theirs = json.loads(run([sys.executable, py_decode, fx[key], listed, str(rounds)]).stdout.strip().splitlines()[-1])
            decode_rows.append((label, ours, theirs))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def ms(x):
        return f"{x * 1000:.1f} ms"

    lines = ["| render, whole process | dwc | dcmj2pnm | pydicom + Pillow | dwc / dcmj2pnm | goal |",
             "|---|---:|---:|---:|---:|---|"]
    ct_ratio = ct_times["dwc"] / ct_times["dcmj2pnm"]
    tile_ratio = tile_times["dwc"] / tile_times["dcmj2pnm"]
    lines.append(f"| 512×512 16-bit CT → 8-bit PNG (file's window) | {ms(ct_times['dwc'])} | {ms(ct_times['dcmj2pnm'])} | "
                 f"{ms(ct_times['pydicom'])} | {ct_ratio:.2f}× | ≤ 1.0×: **{'met' if ct_ratio <= 1.0 else 'missed'}** |")
    lines.append(f"| one 256×256 JPEG tile (frame {args.tile:,} of 20,000) → PNG | {ms(tile_times['dwc'])} | {ms(tile_times['dcmj2pnm'])} | "
                 f"{ms(tile_times['pydicom'])} | {tile_ratio:.2f}× | ≤ 0.2×: **{'met' if tile_ratio <= 0.2 else 'missed'}** |")
    lines += ["", "| decode (frames in memory) | dwc frames/s | pydicom + pylibjpeg frames/s | dwc faster by | "
              "pylibjpeg codec alone frames/s | dwc faster by |", "|---|---:|---:|---:|---:|---:|"]
    for label, ours, theirs in decode_rows:
        lines.append(f"| {label} | {ours['frames_per_s']:,.0f} | {theirs['frames_per_s']:,.0f} | "
                     f"{ours['frames_per_s'] / theirs['frames_per_s']:.1f}× | {theirs['codec_frames_per_s']:,.0f} | "
                     f"{ours['frames_per_s'] / theirs['codec_frames_per_s']:.1f}× |")
    table = "\n".join(lines)
    print(table)
    if args.no_write:
        return
    pyv = platform.python_version()
    dcmtk = run(["dcmj2pnm", "--version"]).stdout.splitlines()[0].strip("$ ").replace("dcmtk: ", "")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    block = (f"<!-- bench:render:start -->\nMeasured {stamp} by `python3 Scripts/bench_render.py` on {machine()}; "
             f"dwc `{os.path.relpath(dwc, ROOT) if dwc.startswith(ROOT) else dwc}`, {dcmtk}, pydicom {pydicom.__version__} "
             f"(Python {pyv}). Render rows: medians of {args.runs} (tile: {max(3, args.runs // 2)}) interleaved whole-process runs, "
             f"page cache warm; dcmj2pnm with its defaults otherwise (it reads the whole slide for one frame). "
             f"Decode rows: decoding only, frames decoded over the summed decode time of all rounds; pydicom "
             f"`get_decoder(...).as_array(ds, index=k, decoding_plugin=\"pylibjpeg\")` on the same frames (colour converted to "
             f"RGB on both sides); the codec-alone column calls pylibjpeg's decoder (libjpeg, openjpeg, rle) on the same frame bytes "
             f"without pydicom, and without colour conversion.\n\n{table}\n<!-- bench:render:end -->")
    doc = os.path.join(ROOT, "docs", "benchmarks.md")
    text = open(doc, encoding="utf-8").read() if os.path.exists(doc) else "# Benchmarks\n"
    if "<!-- bench:render:start -->" in text:
        text = re.sub(r"<!-- bench:render:start -->.*?<!-- bench:render:end -->", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n## Render and decode (issue 5)\n\n" + block + "\n"
    with open(doc, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
