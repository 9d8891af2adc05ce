#!/usr/bin/env python3
"""Storing, dwc beside dicomweb-client's DICOMfileClient, on the same files in one run (issue 6).

Stores the instances of the 5000-instance corpus archive of ../shared/bench/make_corpus.py:
  - `dwc store -A NEW --files-from LIST` as a whole process: parse and validate, write a temporary
    file per instance, fsync it, rename it into the layout, fsync the folders, index in SQLite
    (synchronous=FULL), the STOW-RS report to /dev/null;
  - DICOMfileClient(url='file://NEW').store_instances(datasets), in process, after pydicom has
    read the same files (timed apart: `dcmread`, then `store_instances`); it does not fsync.
Both start from an empty archive each round, with the page cache warm; medians of --rounds.
The file list is what dwc stores of the corpus (its valid instances, not the junk the corpus
also holds; duplicates of one instance once).

Writes a markdown table between <!-- bench:store:start --> and <!-- bench:store:end --> in
docs/benchmarks.md (other blocks are left alone).
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def referenced_sources(report_path):
    """Input paths of the instances a dwc store report lists as stored."""
    with open(report_path) as f:
        report = json.load(f)
    sources, sops = [], set()
    for item in report.get("00081199", {}).get("Value", []):
        sop = item["00081155"]["Value"][0]
        source = item["00091001"]["Value"][0]
        if sop not in sops:
            sops.add(sop)
            sources.append(source)
    return sources


def run_dwc(dwc, files_list, workdir, name):
    # A new folder every time, and nothing deleted until the end: ext4 allocates inodes slowly
    # next to thousands of just-deleted ones, which would penalise whichever store runs next.
    archive = os.path.join(workdir, name)
    report = os.path.join(workdir, name + ".json")
    t = time.perf_counter()
    with open(report, "w") as out:
        proc = subprocess.run([dwc, "store", "-q", "--compact", "-A", archive, "--files-from", files_list],
                              stdout=out, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 22):
        sys.exit(f"dwc store failed ({proc.returncode}): {proc.stderr}")
    return elapsed, report, archive


def run_client(files, workdir, name):
    import pydicom
    from dicomweb_client import DICOMfileClient
    directory = os.path.join(workdir, name)
    os.makedirs(directory)
    client = DICOMfileClient(url=f"file://{directory}", recreate_db=True, db_dir=directory)
    t = time.perf_counter()
    datasets = [pydicom.dcmread(f) for f in files]
    read = time.perf_counter() - t
    t = time.perf_counter()
    response = client.store_instances(datasets)
    store = time.perf_counter() - t
    stored = len(getattr(response, "ReferencedSOPSequence", []) or [])
    failed = len(getattr(response, "FailedSOPSequence", []) or [])
    return read, store, stored, failed


def fmt(n):
    return f"{n:,.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dwc", default=os.path.join(ROOT, ".build/release/dwc"))
    parser.add_argument("--corpus", default="/tmp/dwc-corpus", help="output of make_corpus.py (its archive/ is stored)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", default=None, help="where the archives are written (default: a temporary folder on /tmp)")
    parser.add_argument("--docs", default=os.path.join(ROOT, "docs/benchmarks.md"))
    parser.add_argument("--no-docs", action="store_true", help="print the table, do not write it")
    args = parser.parse_args()

    source = os.path.join(args.corpus, "archive")
    if not os.path.isdir(source):
        sys.exit(f"{source}: no corpus (python3 ../shared/bench/make_corpus.py -o {args.corpus})")
    workdir = tempfile.mkdtemp(prefix="dwc-bench-store-", dir=args.workdir)
    try:
        # Which files are instances: what dwc stores of the corpus (junk, DICOMDIR, duplicates out).
        run_dwc(args.dwc, "/dev/null", workdir, "warm-up")
        probe = os.path.join(workdir, "probe")
        with open(os.path.join(workdir, "probe.json"), "w") as out:
            subprocess.run([args.dwc, "store", "-q", "--compact", "-A", probe, source], stdout=out,
                           stderr=subprocess.DEVNULL, check=False)
        files = referenced_sources(os.path.join(workdir, "probe.json"))
        files_list = os.path.join(workdir, "files.txt")
        with open(files_list, "w") as f:
            f.write("\n".join(files) + "\n")
        total_bytes = sum(os.path.getsize(f) for f in files)
        for f in files:  # page cache warm for both
            with open(f, "rb") as fh:
                fh.read()

        dwc_times, client_read, client_store = [], [], []
        client_stored = client_failed = 0
        dwc_stored = dwc_failed = 0
        for number in range(args.rounds):
            elapsed, report, archive = run_dwc(args.dwc, files_list, workdir, f"dwc-{number}")
            dwc_times.append(elapsed)
            with open(report) as f:
                data = json.load(f)
            dwc_stored = len(data.get("00081199", {}).get("Value", []))
            dwc_failed = len(data.get("00081198", {}).get("Value", []))
            read, store, client_stored, client_failed = run_client(files, workdir, f"client-{number}")
            client_read.append(read)
            client_store.append(store)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    n = len(files)
    dwc_t = statistics.median(dwc_times)
    read_t, store_t = statistics.median(client_read), statistics.median(client_store)
    dwc_rate = n / dwc_t
    client_store_rate = n / store_t
    client_total_rate = n / (read_t + store_t)
    ratio_store = dwc_rate / client_store_rate
    ratio_total = dwc_rate / client_total_rate
    import pydicom
    import dicomweb_client
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    distro = "unknown"
    try:
        with open("/etc/os-release") as f:
            distro = dict(line.rstrip().split("=", 1) for line in f if "=" in line).get("PRETTY_NAME", "").strip('"')
    except OSError:
        pass
    fs = subprocess.run(["df", "-T", args.workdir or tempfile.gettempdir()], capture_output=True, text=True).stdout.splitlines()[-1].split()[1]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    table = "\n".join([
        "| store | files | files/s | MiB/s | s (median) | failed | fsync | speed-up of dwc |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
        f"| dwc `store --files-from` (whole process: parse, validate, write, index, report) | {n:,} | {fmt(dwc_rate)} | "
        f"{total_bytes / 2**20 / dwc_t:,.1f} | {dwc_t:.2f} | {dwc_failed} | yes | — |",
        f"| DICOMfileClient `store_instances` (datasets already read) | {n:,} | {fmt(client_store_rate)} | "
        f"{total_bytes / 2**20 / store_t:,.1f} | {store_t:.2f} | {client_failed} | none | {ratio_store:.1f}× |",
        f"| pydicom `dcmread` + DICOMfileClient `store_instances` | {n:,} | {fmt(client_total_rate)} | "
        f"{total_bytes / 2**20 / (read_t + store_t):,.1f} | {read_t + store_t:.2f} | {client_failed} | none | {ratio_total:.1f}× |",
    ])
    goal = "met" if ratio_store >= 10 else "missed"
    block = (f"<!-- bench:store:start -->\nRun {stamp} on {cpu_name()}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {distro}; "
             f"dwc ({os.path.relpath(args.dwc, ROOT) if args.dwc.startswith(ROOT) else args.dwc}), dicomweb-client "
             f"{dicomweb_client.__version__}, pydicom {pydicom.__version__} (Python {platform.python_version()}); archives on {fs}.\n\n"
             f"Corpus: the instances of `make_corpus.py` archive/ ({n:,} files, {total_bytes / 2**20:.1f} MiB; its junk, "
             f"DICOMDIR and duplicate left out); each store into an empty archive, page cache warm, median of {args.rounds} rounds, "
             f"dwc and the client alternating in one run. dwc stored {dwc_stored:,} and the client {client_stored:,}.\n\n"
             f"{table}\n\n"
             f"dwc makes each batch of 1,024 files durable before indexing it: one syncfs(2) after writing the "
             f"temporary files and one after renaming them (what an fsync of every file and folder guarantees, "
             f"in two flushes; batches under 16 files are fsynced file by file), and an index commit with "
             f"`synchronous=FULL`. DICOMfileClient writes with plain `open().write()` and commits SQLite with its "
             f"defaults, so its numbers are without durability. Nothing is deleted before the last round: on this "
             f"ext4, creating files right after thousands were deleted is several times slower for a minute or so, "
             f"whichever program does it. Per-round dwc times: "
             f"{', '.join(f'{t:.2f}' for t in dwc_times)} s.\n\n"
             f"Goal: dwc ≥ 10× DICOMfileClient.store_instances: **{goal}** ({ratio_store:.1f}×; "
             f"{ratio_total:.1f}× counting pydicom's reading).\n<!-- bench:store:end -->")
    print(block)
    if args.no_docs:
        return
    with open(args.docs) as f:
        text = f.read()
    if "<!-- bench:store:start -->" in text:
        text = re.sub(r"<!-- bench:store:start -->.*?<!-- bench:store:end -->", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n## Store (issue 6)\n\n`python3 Scripts/bench_store.py` (see `--help`).\n\n" + block + "\n"
    with open(args.docs, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
