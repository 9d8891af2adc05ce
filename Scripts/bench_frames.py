#!/usr/bin/env python3
"""Frame retrieval, dwc beside dicomweb-client's DICOMfileClient and highdicom, on the same
whole-slide files and the same random frames, in one run (issue 4's measurements).

Measures, per variant (BOT, empty BOT, Extended Offset Table):
  - in process, per frame: dwc (`dwc bench frames`, after the first access), DICOMfileClient
    (`retrieve_instance_frames`, one frame per call, after the client is built) and highdicom
    (`ImageFileReader.read_frame_raw`, after the file is opened);
  - whole process, one frame: `dwc retrieve-frames UID --frames K -o -` with a warm index beside
    a Python script that builds DICOMfileClient and retrieves the frame;
  - first access to the empty-BOT file: bytes read (dwc) as a share of the file;
  - peak memory to read one frame of a 2 GiB (sparse) file.
Writes a markdown table between <!-- bench:frames:start --> and <!-- bench:frames:end --> in
docs/benchmarks.md. Needs the corpus of ../shared/bench/make_corpus.py (--corpus DIR).
"""
import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def time_process(cmd, runs, stdin=None):
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=stdin)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def peak_rss_kb(cmd):
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True)
    return int(out.stderr.strip().splitlines()[-1])


def make_sparse_native(path):
    """A 2 GiB native RGB multi-frame file whose pixel data is a hole (costs no disk)."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    rows = cols = 256
    frames = 10923  # 10923 × 196608 bytes ≈ 2.0 GiB
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.77.1.6"
    ds.SOPInstanceUID = generate_uid(entropy_srcs=["dwc-bench-sparse"])
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["dwc-bench-sparse-study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["dwc-bench-sparse-series"])
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, cols, 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = frames
    ds.PixelData = b"\0\0"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    length = rows * cols * 3 * frames
    with open(path, "r+b") as f:
        data = f.read()
        at = data.rfind(b"\xe0\x7f\x10\x00OB\x00\x00")
        f.seek(at + 8)
        f.write(length.to_bytes(4, "little"))
        f.truncate(at + 12 + length)
    return path, frames


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dwc", default=os.path.join(ROOT, ".build", "release", "dwc"))
    ap.add_argument("--corpus", default="/tmp/dwc-corpus")
    ap.add_argument("--frames", type=int, default=100, help="random frames per variant")
    ap.add_argument("--runs", type=int, default=10, help="whole-process runs")
    args = ap.parse_args()
    dwc = os.path.abspath(args.dwc)
    from dicomweb_client.api import DICOMfileClient
    from highdicom.io import ImageFileReader
    import pydicom

    rng = random.Random(20261126)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for variant in ["bot", "nobot", "eot"]:
            folder = os.path.join(args.corpus, "wsi", variant)
            path = os.path.join(folder, os.listdir(folder)[0])
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            count = int(ds.NumberOfFrames)
            picks = [rng.randint(1, count) for _ in range(args.frames)]
            # dwc in process: first access (header + table or scan), then one read per frame.
            d = run_json([dwc, "bench", "frames", "--frames", ",".join(map(str, picks)), path])
            # DICOMfileClient in process (its own SQLite database, built once, not timed).
            archive = os.path.join(tmp, variant)
            os.makedirs(archive)
            os.symlink(path, os.path.join(archive, os.path.basename(path)))
            os.makedirs(os.path.join(tmp, variant + "-db"))
            client = DICOMfileClient(url=f"file://{archive}", db_dir=os.path.join(tmp, variant + "-db"))
            t = time.perf_counter()
            for k in picks:
                client.retrieve_instance_frames(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, frame_numbers=[k])
            client_per_frame = (time.perf_counter() - t) / len(picks)
            # highdicom: open once (not timed), then raw frames.
            reader = ImageFileReader(path)
            t = time.perf_counter()
            reader.open()
            open_time = time.perf_counter() - t
            t = time.perf_counter()
            for k in picks:
                reader.read_frame_raw(k - 1)
            highdicom_per_frame = (time.perf_counter() - t) / len(picks)
            reader.close()
            # Whole process, one frame, warm index.
            subprocess.run([dwc, "index", "-q", "-A", archive, "--follow-symlinks"], check=True)
            subprocess.run([dwc, "retrieve-frames", "-q", "-A", archive, ds.SOPInstanceUID, "--frames", "1", "-o", "-"],
                           check=True, stdout=subprocess.DEVNULL)  # keeps the frame table in the index
            k = picks[0]
            dwc_process = time_process([dwc, "retrieve-frames", "-q", "-A", archive, ds.SOPInstanceUID, "--frames", str(k), "-o", "-"], args.runs)
            script = (f"from dicomweb_client.api import DICOMfileClient\n"
                      f"c = DICOMfileClient(url='file://{archive}', db_dir='{os.path.join(tmp, variant + '-db')}')\n"
                      f"import sys; sys.stdout.buffer.write(c.retrieve_instance_frames('{ds.StudyInstanceUID}', "
                      f"'{ds.SeriesInstanceUID}', '{ds.SOPInstanceUID}', frame_numbers=[{k}])[0])\n")
            client_process = time_process([sys.executable, "-c", script], max(3, args.runs // 3))
            rows.append({
                "variant": variant, "frames": count, "origin": d["origin"],
                "dwc_us": d["mean_us_per_frame"], "client_us": client_per_frame * 1e6, "highdicom_us": highdicom_per_frame * 1e6,
                "highdicom_open_ms": open_time * 1000, "dwc_first_ms": d["first_access_ms"],
                "bytes_share": d["bytes_read_first_access"] / d["file_size"],
                "dwc_process_ms": dwc_process * 1000, "client_process_ms": client_process * 1000,
            })
        sparse, frames = make_sparse_native(os.path.join(tmp, "sparse-2gib.dcm"))
        rss = peak_rss_kb([dwc, "retrieve-frames", sparse, "--frames", str(frames // 2), "-o", "-"])

    lines = ["| file | frames | table | dwc µs/frame | DICOMfileClient µs/frame | highdicom µs/frame | ratio vs client | ratio vs highdicom | dwc first access | dwc bytes read on first access | dwc process, 1 frame | DICOMfileClient script, 1 frame | ratio |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| wsi/{r['variant']} | {r['frames']} | {r['origin']} | {r['dwc_us']:.1f} | {r['client_us']:.0f} | {r['highdicom_us']:.0f} | "
                     f"{r['client_us'] / r['dwc_us']:.0f}× | {r['highdicom_us'] / r['dwc_us']:.0f}× | {r['dwc_first_ms']:.1f} ms | "
                     f"{100 * r['bytes_share']:.2f}% | {r['dwc_process_ms']:.1f} ms | {r['client_process_ms']:.0f} ms | "
                     f"{r['client_process_ms'] / r['dwc_process_ms']:.0f}× |")
    lines.append("")
    lines.append(f"Peak memory of `dwc retrieve-frames` reading one frame of a 2 GiB native file: {rss / 1024:.1f} MiB.")
    table = "\n".join(lines)
    print(table)
    doc = os.path.join(ROOT, "docs", "benchmarks.md")
    stamp = time.strftime("%Y-%m-%d")
    block = (f"<!-- bench:frames:start -->\nMeasured {stamp} by `python3 Scripts/bench_frames.py` ({args.frames} random frames per file, "
             f"medians of {args.runs} whole-process runs; 2 cores, page cache warm).\n\n{table}\n<!-- bench:frames:end -->")
    text = open(doc, encoding="utf-8").read() if os.path.exists(doc) else "# Benchmarks\n"
    if "<!-- bench:frames:start -->" in text:
        text = re.sub(r"<!-- bench:frames:start -->.*?<!-- bench:frames:end -->", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n## Frames (issue 4)\n\n" + block + "\n"
    with open(doc, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
