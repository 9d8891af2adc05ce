#!/usr/bin/env python3
"""Frames of a remote whole-slide image (issue 8): dwc beside highdicom's lazy frame retrieval
through fsspec's HTTP file system, on the same nginx (loopback) and the same random frames, in
one run.

nginx serves the corpus's 20,000-frame slides (with a Basic Offset Table, and with an empty
one); its access log records every request's Range and body bytes, so requests and bytes per
frame are counted, not estimated. Per variant, after `dwc index URL` once (header + frame
table: offset table, or one streaming GET over the item headers; its cost reported beside):
  - dwc in process: `dwc bench remote-frames` (calls after a first one; each with a new client,
    so new connections, the index opened, the row and frame table read, the frames fetched into
    memory as a multipart document), the first call of that process reported beside;
  - highdicom in process: `ImageFileReader` over `fsspec.filesystem("http",
    skip_instance_cache=True).open(URL)` (new connections), `open()` (header and offset table
    read) and `read_frame_raw` of the frames into a dict, timed after one untimed first call;
  - as whole processes: `dwc retrieve-frames --multipart` read from a pipe, and `-o DIR` (one
    file per frame into a new directory); `python3 -c` doing the highdicom call once (imports
    included).
Every frame dwc delivers (files and multipart) and highdicom delivers is checked against the
corpus manifest's CRC32. Medians of --rounds interleaved rounds. Writes a table between
<!-- bench:remote:start --> and <!-- bench:remote:end --> in docs/benchmarks.md.
"""
import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = [("bot", "wsi/bot/wsi_jpeg_bot.dcm"), ("nobot", "wsi/nobot/wsi_jpeg_nobot.dcm")]


class Nginx:
    """nginx in the foreground as this user, on a free loopback port, logging each request."""

    def __init__(self, root):
        self.dir = tempfile.mkdtemp(prefix="dwc-bench-nginx-")
        self.log = os.path.join(self.dir, "access.log")
        for _ in range(5):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
            conf = f"""
daemon off;
master_process off;
error_log {self.dir}/error.log warn;
pid {self.dir}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    log_format probe '$request_method $uri "$http_range" $status $body_bytes_sent';
    access_log {self.log} probe;
    client_body_temp_path {self.dir}/tmp;
    proxy_temp_path {self.dir}/tmp;
    fastcgi_temp_path {self.dir}/tmp;
    uwsgi_temp_path {self.dir}/tmp;
    scgi_temp_path {self.dir}/tmp;
    keepalive_requests 100000;
    server {{ listen 127.0.0.1:{self.port}; root {root}; }}
}}
"""
            with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
                f.write(conf)
            nginx = shutil.which("nginx") or "/usr/sbin/nginx"
            self.process = subprocess.Popen([nginx, "-p", self.dir, "-c", self.dir + "/nginx.conf", "-e", self.dir + "/error.log"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(250):
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return
                except OSError:
                    if self.process.poll() is not None:
                        break
                    time.sleep(0.02)
            self.process.kill()
        raise SystemExit("nginx did not start: " + open(os.path.join(self.dir, "error.log")).read())

    def url(self, path):
        return f"http://127.0.0.1:{self.port}/{path}"

    def clear(self):
        open(self.log, "w").close()

    def requests(self):
        """(method, range, status, body bytes) per request; nginx logs after answering."""
        time.sleep(0.05)
        out = []
        for line in open(self.log):
            parts = line.split('"')
            if len(parts) != 3:
                continue
            method = parts[0].split()[0]
            status, sent = parts[2].split()
            out.append((method, parts[1], int(status), int(sent)))
        return out

    def stop(self):
        self.process.terminate()
        self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def manifest(corpus, variant):
    frames = {}
    with open(os.path.join(corpus, "manifests", f"wsi-{variant}.frames.tsv")) as f:
        next(f)
        for line in f:
            number, _, _, length, crc, _ = line.rstrip("\n").split("\t")
            frames[int(number)] = (int(length), int(crc, 16))
    return frames


def run_dwc(dwc, archive, url, frames, out):
    """A whole `dwc retrieve-frames` process writing one file per frame into a new directory."""
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    t = time.perf_counter()
    subprocess.run([dwc, "retrieve-frames", "-A", archive, url, "--frames", ",".join(map(str, frames)), "-o", out,
                    "--name", "{frame}.{ext}"], check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t
    got = {}
    for name in os.listdir(out):
        with open(os.path.join(out, name), "rb") as f:
            got[int(name.split(".")[0])] = f.read()
    return elapsed, got


def run_dwc_multipart(dwc, archive, url, frames):
    """A whole `dwc retrieve-frames --multipart` process, read from its stdout pipe (no files, as
    the highdicom process keeps its frames in memory); the parts are checked like the files."""
    t = time.perf_counter()
    done = subprocess.run([dwc, "retrieve-frames", "-A", archive, url, "--frames", ",".join(map(str, frames)), "--multipart"],
                          check=True, stdout=subprocess.PIPE)
    elapsed = time.perf_counter() - t
    data = done.stdout
    boundary = re.search(rb'boundary=([^\r;]+)', data).group(1)
    got, position = {}, data.index(b"\r\n\r\n") + 4
    while data.startswith(b"--" + boundary + b"\r\n", position):
        head_end = data.index(b"\r\n\r\n", position)
        head = data[position:head_end].decode()
        length = int(re.search(r"Content-Length: (\d+)", head).group(1))
        number = int(re.search(r"Content-Location: frames/[^/]+/(\d+)", head).group(1))
        got[number] = data[head_end + 4:head_end + 4 + length]
        position = head_end + 4 + length + 2
    return elapsed, got


def run_dwc_in_process(dwc, archive, url, frames, calls):
    """`dwc bench remote-frames`: calls after a first one in one process, each with a new client
    (new connections), the index opened, the row and frame table read, the frames fetched into
    memory. Returns (median call, first call, requests of a call) in seconds."""
    done = subprocess.run([dwc, "bench", "remote-frames", "-A", archive, url, "--frames", ",".join(map(str, frames)),
                           "--repeat", str(calls)], check=True, stdout=subprocess.PIPE)
    r = json.loads(done.stdout)
    if r["frames"] != len(frames):
        raise SystemExit(f"dwc bench remote-frames delivered {r['frames']} of {len(frames)} frames")
    return r["median_call_ms"] / 1000, r["first_call_ms"] / 1000, r["requests"]


def run_highdicom(url, frames):
    import fsspec
    from highdicom.io import ImageFileReader
    from pydicom.filebase import DicomFileLike
    t = time.perf_counter()
    fs = fsspec.filesystem("http", skip_instance_cache=True)
    with fs.open(url, "rb") as f:
        reader = ImageFileReader(DicomFileLike(f))
        reader.open()
        got = {k: reader.read_frame_raw(k - 1) for k in frames}
        reader.close()
    return time.perf_counter() - t, got


HIGHDICOM_PROCESS = """
import sys, fsspec
from highdicom.io import ImageFileReader
from pydicom.filebase import DicomFileLike
with fsspec.filesystem("http").open(sys.argv[1], "rb") as f:
    reader = ImageFileReader(DicomFileLike(f))
    reader.open()
    for k in sys.argv[2].split(","):
        reader.read_frame_raw(int(k) - 1)
"""


def run_highdicom_process(url, frames):
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", HIGHDICOM_PROCESS, url, ",".join(map(str, frames))], check=True)
    return time.perf_counter() - t


def check(got, expected, who):
    for k, data in got.items():
        length, crc = expected[k]
        if zlib.crc32(data) != crc:
            raise SystemExit(f"{who}: frame {k} differs from the manifest (length {len(data)} vs {length})")


def totals(requests):
    return len(requests), sum(r[3] for r in requests), sum(1 for r in requests if r[0] == "HEAD")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dwc", default=os.path.join(ROOT, ".build/release/dwc"))
    parser.add_argument("--corpus", default="/tmp/dwc-corpus")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--calls", type=int, default=3, help="dwc in-process calls per round after the first")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args()
    dwc = os.path.abspath(args.dwc)
    nginx = Nginx(args.corpus)
    rows = []
    try:
        for variant, path in VARIANTS:
            url = nginx.url(path)
            expected = manifest(args.corpus, variant)
            frames = sorted(random.Random(args.seed).sample(range(1, len(expected) + 1), args.frames))
            frame_bytes = sum(expected[k][0] for k in frames)
            archive = tempfile.mkdtemp(prefix="dwc-bench-remote-")
            out = os.path.join(archive, "out")
            nginx.clear()
            t = time.perf_counter()
            subprocess.run([dwc, "index", "-A", archive, url], check=True, stderr=subprocess.DEVNULL)
            index_s = time.perf_counter() - t
            index_requests, index_bytes, index_heads = totals(nginx.requests())
            dwc_times, dwc_pipe_times, dwc_call_times, dwc_first_times = [], [], [], []
            hd_times, hd_process_times = [], []
            # highdicom's in-process calls are timed after a first one (imports and fsspec's
            # first-use set-up done), as dwc's in-process calls are.
            run_highdicom(url, frames)
            for _ in range(args.rounds):
                nginx.clear()
                elapsed, got = run_dwc(dwc, archive, url, frames, out)
                dwc_log = nginx.requests()
                check(got, expected, "dwc")
                if len(got) != len(frames):
                    raise SystemExit(f"dwc delivered {len(got)} of {len(frames)} frames")
                dwc_times.append(elapsed)
                elapsed, got = run_dwc_multipart(dwc, archive, url, frames)
                check(got, expected, "dwc --multipart")
                if len(got) != len(frames):
                    raise SystemExit(f"dwc --multipart delivered {len(got)} of {len(frames)} frames")
                dwc_pipe_times.append(elapsed)
                call, first, call_requests = run_dwc_in_process(dwc, archive, url, frames, args.calls)
                if call_requests != len(dwc_log):
                    raise SystemExit(f"dwc in process made {call_requests} requests, the process {len(dwc_log)}")
                dwc_call_times.append(call)
                dwc_first_times.append(first)
                nginx.clear()
                elapsed, got = run_highdicom(url, frames)
                hd_log = nginx.requests()
                check(got, expected, "highdicom")
                hd_times.append(elapsed)
                hd_process_times.append(run_highdicom_process(url, frames))
            shutil.rmtree(archive, ignore_errors=True)
            dwc_requests, dwc_bytes, dwc_heads = totals(dwc_log)
            hd_requests, hd_bytes, hd_heads = totals(hd_log)
            rows.append(dict(variant=variant, frames=len(frames), frame_bytes=frame_bytes,
                             index_requests=index_requests, index_bytes=index_bytes, index_heads=index_heads, index_s=index_s,
                             dwc_requests=dwc_requests, dwc_bytes=dwc_bytes, dwc_heads=dwc_heads, dwc_s=statistics.median(dwc_times),
                             dwc_pipe_s=statistics.median(dwc_pipe_times), dwc_call_s=statistics.median(dwc_call_times),
                             dwc_first_s=statistics.median(dwc_first_times),
                             hd_requests=hd_requests, hd_bytes=hd_bytes, hd_heads=hd_heads, hd_s=statistics.median(hd_times),
                             hd_process_s=statistics.median(hd_process_times)))
    finally:
        nginx.stop()

    lines = ["| slide | frames | frames' bytes | dwc index (once) | dwc requests | dwc bytes | highdicom+fsspec requests | highdicom bytes | "
             "dwc in process (first call) | highdicom in process | dwc faster in process | dwc process: pipe / files | highdicom process | "
             "dwc faster as processes (pipe) | dwc process (pipe) vs highdicom in process |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        n = r["frames"]
        lines.append(f"| wsi/{r['variant']} (20,000 frames) | {n} | {r['frame_bytes'] / 1024:.0f} KiB | "
                     f"{r['index_requests']} GET, {r['index_bytes'] / 1024:.0f} KiB, {r['index_s'] * 1000:.0f} ms | "
                     f"{r['dwc_requests']} ({r['dwc_requests'] / n:.2f}/frame) | {r['dwc_bytes'] / r['frame_bytes']:.4f}× | "
                     f"{r['hd_requests']} ({r['hd_requests'] / n:.2f}/frame) | {r['hd_bytes'] / r['frame_bytes']:.1f}× | "
                     f"{r['dwc_call_s'] * 1000:.1f} ms ({r['dwc_first_s'] * 1000:.0f} ms) | {r['hd_s'] * 1000:.0f} ms | "
                     f"**{r['hd_s'] / r['dwc_call_s']:.1f}×** | {r['dwc_pipe_s'] * 1000:.0f} / {r['dwc_s'] * 1000:.0f} ms | "
                     f"{r['hd_process_s'] * 1000:.0f} ms | {r['hd_process_s'] / r['dwc_pipe_s']:.1f}× | {r['hd_s'] / r['dwc_pipe_s']:.1f}× |")
    lines.append("")
    lines.append("Bytes are response bodies (nginx `$body_bytes_sent`) over the frames' own bytes (the manifest's "
                 "frame lengths; dwc's spans add each item's 8-byte header). HEAD requests: dwc "
                 f"{sum(r['index_heads'] + r['dwc_heads'] for r in rows)}, highdicom+fsspec {sum(r['hd_heads'] for r in rows)}.")
    table = "\n".join(lines)
    print(table)
    if args.no_write:
        return
    doc = os.path.join(ROOT, "docs", "benchmarks.md")
    stamp = time.strftime("%Y-%m-%d")
    block = (f"<!-- bench:remote:start -->\nMeasured {stamp} by `python3 Scripts/bench_remote.py` ({args.frames} random frames "
             f"(seed {args.seed}) per slide over nginx on 127.0.0.1, medians of {args.rounds} interleaved rounds; dwc with --parallel 8, "
             f"highdicom {__import__('highdicom').__version__} with fsspec {__import__('fsspec').__version__}; 2 shared cores; columns in docs/remote.md).\n\n"
             f"{table}\n<!-- bench:remote:end -->")
    text = open(doc, encoding="utf-8").read() if os.path.exists(doc) else "# Benchmarks\n"
    if "<!-- bench:remote:start -->" in text:
        text = re.sub(r"<!-- bench:remote:start -->.*?<!-- bench:remote:end -->", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n## Remote frames (issue 8)\n\n" + block + "\n"
    with open(doc, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
