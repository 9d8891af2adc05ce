#!/usr/bin/env python3
"""Series and study metadata, dwc beside dicomweb-client's DICOMfileClient, on the archive of
../shared/bench/make_corpus.py, in one run (issue 7's measurement).

For the largest series and the largest study of the corpus (by instance count, from its
manifest) and the median series, this times, in interleaved rounds:
  - the call, both sides alike: DICOMfileClient.retrieve_series_metadata /
    retrieve_study_metadata on a client already built (its SQLite database open), and
    `dwc bench metadata`, which opens dwc's index once and runs the metadata operation
    repeatedly on it (median per call; output to /dev/null in 64 KiB writes);
  - opening dwc's index alone (`dwc bench metadata` reports it), which every dwc command pays;
  - `dwc metadata --series UID` / `--study UID` as dwc times itself with -v (index opened and
    queried, files read, JSON written), and the whole dwc process, stdout to /dev/null;
  - a Python script that opens the client on its existing database, retrieves the metadata and
    writes it as JSON to /dev/null: what the shell user of DICOMfileClient waits for.
The index is built once, not timed, in a private file (other benchmarks' indexes of the same
archive are not touched). Both sides return the same instances (checked). Medians of --runs
rounds. Peak memory of the dwc process. Writes a table between <!-- bench:metadata:start --> and
<!-- bench:metadata:end --> in docs/benchmarks.md (only that block).

    python3 Scripts/bench_metadata.py --dwc .build/release/dwc --corpus /tmp/dwc-corpus
"""
import argparse
import csv
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCK = ("<!-- bench:metadata:start -->", "<!-- bench:metadata:end -->")


def time_process(cmd, runs):
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def time_in_process(cmd, runs):
    """dwc's own timing of the operation (index query, parse, encode, write), from the summary
    that `-v` prints on stderr: `I: N instances, M failed in T ms`."""
    samples = []
    for _ in range(runs):
        err = subprocess.run(cmd + ["-v"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).stderr
        m = re.search(r"instances, \d+ failed in ([0-9.]+) ms", err)
        if not m:
            sys.exit(f"bench_metadata: no timing in dwc's -v output: {err[-300:]}")
        samples.append(float(m.group(1)) / 1e3)
    return statistics.median(samples)


def time_call(fn, runs):
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def peak_rss_kb(cmd):
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, check=True)
    return int(out.stderr.strip().splitlines()[-1])


def shown(path):
    """A path inside the package relative to it, any other as it is."""
    full = os.path.abspath(path)
    return os.path.relpath(full, ROOT) if full.startswith(ROOT + os.sep) else full


def pick_requests(corpus):
    """(label, study, series or None, expected instances): the largest series, a small series,
    the largest study, from the corpus manifest of indexed instances."""
    rows = []
    with open(os.path.join(corpus, "manifests", "archive.tsv"), newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["kind"] == "instance" and row["expected"] == "indexed":
                rows.append(row)
    series, studies = {}, {}
    for r in rows:
        series.setdefault((r["study_instance_uid"], r["series_instance_uid"]), set()).add(r["sop_instance_uid"])
        studies.setdefault(r["study_instance_uid"], set()).add(r["sop_instance_uid"])
    ordered = sorted(series.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    big_series = ordered[0]
    small = [kv for kv in ordered if len(kv[1]) == sorted(len(v) for v in series.values())[len(series) // 2]][0]
    big_study = sorted(studies.items(), key=lambda kv: (-len(kv[1]), kv[0]))[0]
    return [
        ("largest series", big_series[0][0], big_series[0][1], len(big_series[1])),
        ("median series", small[0][0], small[0][1], len(small[1])),
        ("largest study", big_study[0], None, len(big_study[1])),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dwc", default=os.path.join(ROOT, ".build", "release", "dwc"))
    ap.add_argument("--corpus", default="/tmp/dwc-corpus")
    ap.add_argument("--runs", type=int, default=7, help="interleaved rounds (medians over them)")
    ap.add_argument("--calls", type=int, default=20, help="dwc calls on the open index per round (median)")
    ap.add_argument("--no-write", action="store_true", help="print the table, do not touch docs/benchmarks.md")
    args = ap.parse_args()
    archive = os.path.join(args.corpus, "archive")
    if not os.path.isdir(archive):
        sys.exit(f"bench_metadata: no corpus at {archive} (run ../shared/bench/make_corpus.py)")
    from dicomweb_client.api import DICOMfileClient

    requests = pick_requests(args.corpus)
    with tempfile.TemporaryDirectory(prefix="dwc-bench-metadata-") as tmp:
        index = os.path.join(tmp, "index.sqlite")
        subprocess.run([args.dwc, "index", "-q", "-A", archive, "--index", index], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        db_dir = os.path.join(tmp, "client-db")
        os.makedirs(db_dir)
        t = time.perf_counter()
        client = DICOMfileClient(url=f"file://{archive}", db_dir=db_dir)
        client_db_s = time.perf_counter() - t

        rows = []
        for label, study, series, expected in requests:
            select = ["--series", series] if series else ["--study", study]
            cmd = [args.dwc, "metadata", "-A", archive, "--index", index, "--compact"] + select
            out = subprocess.run(cmd, check=True, capture_output=True).stdout
            dwc_uids = sorted(o["00080018"]["Value"][0] for o in json.loads(out))
            if series:
                call = lambda: client.retrieve_series_metadata(study, series)  # noqa: E731
                method = "retrieve_series_metadata"
                py_args = f"'{study}', '{series}'"
            else:
                call = lambda: client.retrieve_study_metadata(study)  # noqa: E731
                method = "retrieve_study_metadata"
                py_args = f"'{study}'"
            client_uids = sorted(m["00080018"]["Value"][0] for m in call())
            if dwc_uids != client_uids or len(dwc_uids) != expected:
                sys.exit(f"bench_metadata: {label}: dwc {len(dwc_uids)} instances, DICOMfileClient "
                         f"{len(client_uids)}, manifest {expected}: they must agree")
            # Interleaved rounds, so that both sides see the same load on these shared machines.
            bench = [args.dwc, "bench", "metadata", "-A", archive, "--index", index, "--compact",
                     "--repeat", str(args.calls)] + select
            call_runs, first_runs, open_runs, op_runs, dwc_runs, client_runs = [], [], [], [], [], []
            for _ in range(args.runs):
                r = json.loads(subprocess.run(bench, check=True, capture_output=True, text=True).stdout)
                if r["instances"] != expected or r["output_bytes"] != len(out):
                    sys.exit(f"bench_metadata: {label}: dwc bench metadata delivered {r['instances']} instances, "
                             f"{r['output_bytes']} bytes; dwc metadata {expected}, {len(out)}")
                call_runs.append(r["median_call_ms"] / 1e3)
                first_runs.append(r["first_call_ms"] / 1e3)
                open_runs.append(r["open_ms"] / 1e3)
                client_runs.append(time_call(call, 1))
                # A few short processes per round: on loaded machines their times are bimodal
                # (a process that waits for a core costs milliseconds), so more samples.
                for _ in range(3):
                    op_runs.append(time_in_process(cmd, 1))
                    dwc_runs.append(time_process(cmd, 1))
            call_s, first_s, open_s, op_s, dwc_s, client_s = (
                statistics.median(x) for x in (call_runs, first_runs, open_runs, op_runs, dwc_runs, client_runs))
            script = (f"import json, sys\nfrom dicomweb_client.api import DICOMfileClient\n"
                      f"c = DICOMfileClient(url='file://{archive}', db_dir='{db_dir}')\n"
                      f"json.dump(c.{method}({py_args}), sys.stdout)\n")
            script_s = time_process([sys.executable, "-c", script], max(3, args.runs // 2))
            rss = peak_rss_kb(cmd)
            rows.append(dict(label=label, n=len(dwc_uids), call=call_s, first=first_s, open=open_s, op=op_s,
                             process=dwc_s, client=client_s, script=script_s, rss=rss, size=len(out)))
            print(f"{label}: {len(dwc_uids)} instances; call: dwc {call_s * 1e3:.2f} ms, client {client_s * 1e3:.1f} ms "
                  f"({client_s / call_s:.1f}x); dwc -v {op_s * 1e3:.2f} ms, index open {open_s * 1e3:.2f} ms, "
                  f"process {dwc_s * 1e3:.1f} ms; client script {script_s * 1e3:.0f} ms; dwc peak RSS {rss} KiB",
                  file=sys.stderr)

    calls = ["| request | instances | dwc call | DICOMfileClient call | ratio | dwc first call |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        calls.append(f"| {r['label']} | {r['n']} | {r['call'] * 1e3:.2f} ms | {r['client'] * 1e3:.1f} ms | "
                     f"**{r['client'] / r['call']:.1f}×** | {r['first'] * 1e3:.2f} ms |")
    commands = ["| request | dwc metadata, in process (-v) | of which index open | DICOMfileClient call | ratio | "
                "dwc process | DICOMfileClient script | ratio | dwc output | dwc peak RSS |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        commands.append(f"| {r['label']} | {r['op'] * 1e3:.2f} ms | {r['open'] * 1e3:.2f} ms | {r['client'] * 1e3:.1f} ms | "
                        f"{r['client'] / r['op']:.1f}× | {r['process'] * 1e3:.1f} ms | {r['script'] * 1e3:.0f} ms | "
                        f"{r['script'] / r['process']:.0f}× | {r['size'] / 1024:.0f} KiB | {r['rss'] / 1024:.1f} MiB |")
    worst = min(r["client"] / r["call"] for r in rows)
    worst_op = min(r["client"] / r["op"] for r in rows)
    worst_process = min(r["client"] / r["process"] for r in rows)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = (f"{BLOCK[0]}\nMeasured {stamp} by `python3 Scripts/bench_metadata.py` on `{archive}` "
             f"(make_corpus.py; {args.runs} interleaved rounds, medians; per round: dwc calls median of {args.calls}, dwc processes 3; "
             f"2 shared cores, page cache warm; dwc `{shown(args.dwc)}`).\n\n"
             "The call, as the peer is measured: an index (database) already open, the same request made again.\n\n"
             + "\n".join(calls) + "\n\n"
             "The command: what a dwc user waits for, and the client script a DICOMfileClient user runs.\n\n"
             + "\n".join(commands) + "\n\n"
             "dwc call: `dwc bench metadata --compact --series/--study UID` opens the index once, makes one call "
             "(dwc first call: thread pool and caches cold, and the data dictionary for implicit VR files), then times "
             f"{args.calls} more and reports their median: index queried, every file opened and parsed in full "
             "(one read of its header; pixel data never read), DICOM JSON with BulkDataURIs written to /dev/null "
             "in 64 KiB writes. DICOMfileClient call: `retrieve_series_metadata`/`retrieve_study_metadata` "
             "alone, in a warm Python process, client already built and its database open (building it took "
             f"{client_db_s:.1f} s, not counted); it reads each header with `dcmread(stop_before_pixels=True)` "
             "and returns `to_json_dict()` without pixel data, as Python objects (not serialised). "
             "dwc metadata, in process: what `dwc metadata -v --compact` reports for the operation, opening "
             "the index included (its median cost alone is the next column, from `dwc bench metadata`). "
             "dwc process: the whole command, start-up included, stdout to /dev/null. DICOMfileClient script: "
             "a Python process that opens the client on that database, makes the call and writes the JSON to "
             "/dev/null. Both sides return the same instances.\n\n"
             f"Goal: dwc ≥ 10× faster than DICOMfileClient, call against call, for a whole series and a whole "
             f"study: **{'met' if worst >= 10 else 'missed'}** for all three requests (lowest ratio {worst:.1f}×). "
             f"Counting dwc's index open as well (the -v column): lowest ratio {worst_op:.1f}×. "
             f"A whole dwc process against the client's call alone: lowest ratio {worst_process:.1f}× (process "
             f"start-up dominates small series); against a whole client script: "
             f"{min(r['script'] / r['process'] for r in rows):.0f}× or more.\n{BLOCK[1]}")
    print(block)
    if args.no_write:
        return
    path = os.path.join(ROOT, "docs", "benchmarks.md")
    text = open(path, encoding="utf-8").read()
    if BLOCK[0] in text:
        text = re.sub(re.escape(BLOCK[0]) + r".*?" + re.escape(BLOCK[1]), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n## Metadata (issue 7)\n\n" + block + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
