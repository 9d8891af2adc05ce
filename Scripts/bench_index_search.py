#!/usr/bin/env python3
"""Indexing and searching, dwc beside dicomweb-client's DICOMfileClient on the same archive and
the same queries, in one run (issue 3's measurements), plus study-level queries over a synthetic
1,000,000-instance index.

- cold index of the archive: files/s of `dwc index` and of DICOMfileClient(recreate_db=True);
- a re-run with nothing changed: `dwc index` beside DICOMfileClient(update_db=True);
- searches in process: `dwc bench search` (SearchOperation, JSON produced and discarded) on an
  index already open, beside DICOMfileClient.search_for_* on a client already made (its
  database open): the same situation, and the ratio is taken from these two. Reported beside
  it: the cost of opening the index, and `dwc search` as a whole process (start, open, query,
  JSON to a pipe);
- the 1M index: `dwc bench synthetic-index`, then study queries in process and as processes.
Writes the block between <!-- bench:index:start --> and <!-- bench:index:end --> of docs/benchmarks.md.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(fn, runs=1):
    samples = []
    result = None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples), result


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dwc", default=os.path.join(ROOT, ".build", "release", "dwc"))
    ap.add_argument("--archive", default="/tmp/dwc-corpus/archive")
    ap.add_argument("--synthetic", default="/tmp/dwc-bench-1m.sqlite", help="1M-instance index (made once)")
    ap.add_argument("--runs", type=int, default=5, help="dwc runs per round (medians)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds of dwc and the client (medians): this machine's speed drifts by tens of percent from minute to minute")
    args = ap.parse_args()
    dwc = os.path.abspath(args.dwc)
    from dicomweb_client.api import DICOMfileClient

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        index = os.path.join(tmp, "index.sqlite")
        files = sum(len(f) for _, _, f in os.walk(args.archive))
        # The corpus holds two broken files on purpose: dwc reports them and exits 22.
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        def remove_index():
            # Before the clock starts: deleting the last run's files is not part of indexing.
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(index + suffix):
                    os.remove(index + suffix)
            os.sync()

        def cold_index():
            subprocess.run([dwc, "index", "-A", args.archive, "--index", index], **quiet)
        db = os.path.join(tmp, "client-db")
        os.makedirs(db)
        # Interleaved rounds: the machine is shared and its speed drifts by tens of percent from
        # minute to minute, so each round compares dwc and the client measured back to back, and
        # the ratio reported is the median of the rounds' ratios (their range beside it).
        dwc_cold, client_cold_runs, cold_ratios, client = [], [], [], None
        for _ in range(args.rounds):
            remove_index()
            dwc_cold.append(timed(cold_index)[0])
            os.sync()  # each side starts without the other's writes pending
            t, client = timed(lambda: DICOMfileClient(url=f"file://{args.archive}", db_dir=db, recreate_db=True))
            client_cold_runs.append(t)
            cold_ratios.append(client_cold_runs[-1] / dwc_cold[-1])
        cold, client_cold = statistics.median(dwc_cold), statistics.median(client_cold_runs)
        dwc_rerun, client_rerun_runs, rerun_ratios = [], [], []
        for _ in range(args.rounds):
            dwc_rerun.append(timed(lambda: subprocess.run([dwc, "index", "-A", args.archive, "--index", index], **quiet), args.runs)[0])
            t, client = timed(lambda: DICOMfileClient(url=f"file://{args.archive}", db_dir=db, update_db=True))
            client_rerun_runs.append(t)
            rerun_ratios.append(client_rerun_runs[-1] / dwc_rerun[-1])
        rerun, client_rerun = statistics.median(dwc_rerun), statistics.median(client_rerun_runs)
        rows.append(("index the archive, cold (files/s)", f"{files / cold:,.0f}", f"{files / client_cold:,.0f}", cold_ratios))
        rows.append(("index again, nothing changed", f"{rerun * 1000:.0f} ms", f"{client_rerun * 1000:.0f} ms", rerun_ratios))

        queries = [
            ("all studies", "studies", [], lambda: client.search_for_studies(get_remaining=True)),
            ("studies: PatientName wildcard + date range", "studies", ["-k", "PatientName=A*", "-k", "StudyDate=20150101-20201231"],
             lambda: client.search_for_studies(search_filters={"PatientName": "A*", "StudyDate": "20150101-20201231"}, get_remaining=True)),
            ("all series", "series", [], lambda: client.search_for_series(get_remaining=True)),
            ("all instances", "instances", [], lambda: client.search_for_instances(get_remaining=True)),
        ]
        for name, level, keys, client_query in queries:
            query_ms, open_ms, process_s, client_s, ratios = [], [], [], [], []
            for _ in range(args.rounds):
                d = json.loads(run([dwc, "bench", "search", level, "--index", index, "--repeat", str(args.runs)] + keys).stdout)
                query_ms.append(d["median_ms"])
                open_ms.append(d["open_ms"])
                process_s.append(timed(lambda: run([dwc, "search", level, "--index", index, "--format", "json"] + keys), args.runs)[0])
                t, client_result = timed(client_query)
                client_s.append(t)
                ratios.append(t / (query_ms[-1] / 1000))
            query, opened = statistics.median(query_ms), statistics.median(open_ms)
            process, client_time = statistics.median(process_s), statistics.median(client_s)
            rows.append((f"search {name} ({d['results']} results; client: {len(client_result)})",
                         f"{query:.2f} ms query, {opened:.2f} ms open, {process * 1000:.0f} ms as a process",
                         f"{client_time * 1000:.1f} ms", ratios))

    def synthetic_is_current():
        # An index of another schema is stale: dwc exits 81 on it.
        probe = subprocess.run([dwc, "search", "studies", "--index", args.synthetic, "--limit", "1"], capture_output=True)
        return probe.returncode == 0
    if not os.path.exists(args.synthetic) or not synthetic_is_current():
        run([dwc, "bench", "synthetic-index", "--instances", "1000000", args.synthetic])
    big = []
    for name, keys in [("PatientID", ["-k", "PatientID=P1234"]),
                       ("PatientName wildcard + date range", ["-k", "PatientName=doe*", "-k", "StudyDate=20100101-20151231"]),
                       ("ModalitiesInStudy + open date range", ["-k", "ModalitiesInStudy=SM", "-k", "StudyDate=20200101-"]),
                       ("all studies, first 100", ["--limit", "100"])]:
        d = json.loads(run([dwc, "bench", "search", "studies", "--index", args.synthetic, "--repeat", str(args.runs)] + keys).stdout)
        process, _ = timed(lambda: run([dwc, "search", "studies", "--index", args.synthetic, "--format", "json"] + keys), args.runs)
        big.append((name, d["results"], d["median_ms"], process * 1000))

    lines = ["| what | dwc | DICOMfileClient | dwc faster by |", "|---|---:|---:|---:|"]
    lines += [f"| {a} | {b} | {c} | {statistics.median(r):.0f}× ({min(r):.0f}–{max(r):.0f}×) |" for a, b, c, r in rows]
    lines += ["", "1,000,000-instance synthetic index (27,778 studies), study-level queries:", "",
              "| query | matches | dwc query (index open) | dwc process (whole `dwc search`) |", "|---|---:|---:|---:|"]
    lines += [f"| {n} | {m} | {ms:.1f} ms | {p:.0f} ms |" for n, m, ms, p in big]
    lines += ["", "Columns: *query* is `dwc bench search` timing SearchOperation on an index it already opened",
              "(median; plan, SQLite statement, every row encoded as DICOM JSON bytes, then discarded), the",
              "counterpart of a `search_for_*` call on an existing DICOMfileClient (which returns Python",
              "dicts and encodes nothing); the ratio compares these two. *dwc faster by*: the median of the",
              "rounds' ratios, each from dwc and the client measured back to back, and their range. *open* is opening the index for one",
              "search (read-only connection, schema check). *as a process* is `dwc search … --format json`",
              "run by the script, output to a pipe: process start, open, query and output together."]
    table = "\n".join(lines)
    print(table)
    doc = os.path.join(ROOT, "docs", "benchmarks.md")
    block = (f"<!-- bench:index:start -->\nMeasured {time.strftime('%Y-%m-%d')} by `python3 Scripts/bench_index_search.py` on "
             f"`{args.archive}` ({files} files; {args.rounds} interleaved rounds of dwc and DICOMfileClient, times are medians over them and ratios the median of the rounds' ratios; within a round dwc's times are medians of {args.runs} runs; 2 cores shared with other jobs, page cache warm).\n\n"
             f"{table}\n<!-- bench:index:end -->")
    text = open(doc, encoding="utf-8").read()
    if "<!-- bench:index:start -->" in text:
        text = re.sub(r"<!-- bench:index:start -->.*?<!-- bench:index:end -->", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n## Index and search (issue 3)\n\n" + block + "\n"
    open(doc, "w", encoding="utf-8").write(text)


if __name__ == "__main__":
    main()
