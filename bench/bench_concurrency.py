"""Concurrency benchmark: many annotators writing at once while the store is read.

    .venv/bin/python bench/bench_concurrency.py             # 8 writers x 1,000 actions
    .venv/bin/python bench/bench_concurrency.py --quick     # 8 writers x 200 actions

Method
- The workload of tests/test_concurrency.py (`run_workload`): the demo corpus is
  imported with the real CLI into a fresh project; 8 annotator processes open it
  through the core (`Project(dir).store.journal(name, schema)`, one session each),
  wait for a common start signal, then apply a deterministic script of 1,000 actions
  each (toggle_label on a multi and a single layer, mark_done, add_span, undo, redo)
  as fast as they can. Each writer times every action from the call to its return,
  i.e. after COMMIT (synchronous=FULL: on disk).
- Meanwhile `annotator export --out F` and `annotator agreement --json` (the real
  CLI, each run a new process) run back to back in a loop each, until the last
  writer exits.
- Afterwards: events counted in every journal, each journal replayed
  (`verify()`), every export validated (`annotator validate`) and checked for
  consistency: each annotator's exported annotations must be their state after some
  prefix of their script (computed apart from the store), never going back from one
  export to the next. "database is locked" is searched in every writer's and
  reader's output.

The machine's cores are shared by the writers and readers (and by whatever else
runs): the figures are for the whole mix, not for one writer alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_concurrency import (  # noqa: E402
    cli,
    consistency,
    exported_items,
    read_export,
    run_workload,
    stored_events,
)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def row(name: str, value: str) -> None:
    print(f"{name:<52} {value:>24}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 actions per writer")
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--actions", type=int, default=None, help="actions per writer (1000)")
    ap.add_argument("--export-loops", type=int, default=1,
                    help="concurrent `annotator export` loops (default 1)")
    ap.add_argument("--core-loop", action="store_true",
                    help="also export through the core in a loop of this process")
    ap.add_argument("--keep", action="store_true", help="keep the project directory")
    args = ap.parse_args()
    actions = args.actions or (200 if args.quick else 1000)
    expected = args.writers * actions

    tmp = Path(tempfile.mkdtemp(prefix="annotator-bench-concurrency-"))
    t0 = time.perf_counter()
    w = run_workload(tmp, writers=args.writers, actions=actions,
                     export_loops=args.export_loops, core_loop=args.core_loop)
    total = time.perf_counter() - t0

    counts, problems = stored_events(w.project)
    stored = sum(counts.values())
    failed_writers = [n for n, (rc, _) in w.writers.items() if rc != 0]
    failed_runs = [r for r in w.runs if r.returncode != 0]
    texts = [out for _, out in w.writers.values()]
    texts += [t for r in w.runs for t in (r.stdout, r.stderr)]
    locked = sum(t.lower().count("database is locked") for t in texts)
    tracebacks = sum(t.count("Traceback") for t in texts)

    exports = [r for r in w.runs if r.kind == "export" and r.returncode == 0]
    agreements = [r for r in w.runs if r.kind == "agreement" and r.returncode == 0]
    reports = 0
    for r in agreements:
        with contextlib.suppress(ValueError, KeyError):
            reports += set(json.loads(r.stdout)["annotators"]) <= set(w.names)
    valid = subprocess.run(cli("validate", *(str(r.path) for r in exports), "--project",
                               str(w.project)), capture_output=True, text=True)
    consistent, shown = True, []
    try:
        for loop in sorted({r.loop for r in exports}):
            shown += consistency(w, [(r.path.name, exported_items(read_export(r.path)))
                                     for r in exports if r.loop == loop])
        if w.core_exports:
            shown += consistency(w, [(f"core {i}", items)
                                     for i, (_, _, items) in enumerate(w.core_exports)])
    except AssertionError as exc:
        consistent = False
        print(f"INCONSISTENT: {exc}", file=sys.stderr)
    mid = sum(any(0 < k < actions for k in s.values()) for s in shown)

    lat = [x * 1000 for t in w.timings.values() for x in t["latencies"]]
    per_writer = [len(t["latencies"]) / (t["end"] - t["start"]) for t in w.timings.values()]
    during = [r for r in w.runs if r.started < w.writers_done]
    done_during = [r for r in during if r.ended <= w.writers_done]

    print(f"{args.writers} writers x {actions:,} actions, demo corpus "
          f"({sum(1 for _ in (w.project / 'demo').iterdir())} files), "
          f"{os.cpu_count()} CPU cores shared by writers and readers; "
          f"{total:.1f} s in all\n")
    print(f"{'measure':<52} {'value':>24}")
    print("-" * 77)
    row("events expected", f"{expected:,}")
    row("events stored", f"{stored:,}")
    row("events lost", f"{expected - stored:,}")
    row("journals replaying soundly (verify)",
        f"{sum(not p for p in problems.values())} / {len(problems)}")
    row("writers exiting 0", f"{len(w.writers) - len(failed_writers)} / {len(w.writers)}")
    row('"database is locked" occurrences', f"{locked}")
    row("tracebacks", f"{tracebacks}")
    row("reader runs failing", f"{len(failed_runs)}")
    row("wall time of the writes (start signal to last exit)", f"{w.wall:.2f} s")
    row("actions/s per writer (median; min - max)",
        f"{statistics.median(per_writer):,.0f}; {min(per_writer):,.0f} - "
        f"{max(per_writer):,.0f}")
    row("actions/s, all writers", f"{stored / w.wall:,.0f}")
    row("commit latency per action, median", f"{statistics.median(lat):.2f} ms")
    row("commit latency per action, p99", f"{pct(lat, 0.99):.2f} ms")
    row("commit latency per action, max", f"{max(lat):.2f} ms")
    for kind in ("export", "agreement"):
        runs = [r for r in during if r.kind == kind]
        done = [r for r in done_during if r.kind == kind]
        secs = [r.seconds for r in runs] or [0.0]
        row(f"{kind} runs started / completed during the writes",
            f"{len(runs)} / {len(done)}")
        row(f"{kind} run duration (CLI process), median / max",
            f"{statistics.median(secs):.2f} / {max(secs):.2f} s")
    if w.core_exports:
        secs = [e - s for s, e, _ in w.core_exports]
        row("core exports (in-process) during the writes", f"{len(w.core_exports)}")
        row("core export duration, median / max",
            f"{statistics.median(secs) * 1000:.0f} / {max(secs) * 1000:.0f} ms")
    row("exports validated (annotator validate)",
        f"{len(exports)} {'valid' if valid.returncode == 0 else 'INVALID'}")
    row("agreement reports parsed (JSON, known annotators)",
        f"{reports} / {len(agreements)}")
    row("exports checked for consistency / mid-run",
        f"{len(shown)} / {mid} {'consistent' if consistent else 'INCONSISTENT'}")
    ok = (stored == expected and not locked and not tracebacks and not failed_runs
          and not failed_writers and consistent and valid.returncode == 0
          and not any(problems.values()) and reports == len(agreements))
    print(f"\nresult: {'PASS' if ok else 'FAIL'}")
    if args.keep:
        print(f"project kept in {tmp}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
