"""The adjudication screen at scale: launch to first paint and keypress to repaint on a
1,000,000-unit store with 3 annotators, against the same targets as `annotate`
(bench_tui.py), with a minimal Textual app measured the same way in the same run.

    .venv/bin/python bench/bench_adjudicate_tui.py             # 1,000,000 units
    .venv/bin/python bench/bench_adjudicate_tui.py --units 100000 --runs 3 --presses 50

Method (bench_tui.py's, on `python -m annotator adjudicate --project DIR --as bench`):
- The store is bench_adjudicate.py's (100,000 documents x 10 paragraphs, 3 annotators'
  journals; cached under bench/out/), its gold pre-filled once by `--auto unanimous`
  (untimed), as a curator finds it when they come back: the launch then runs the
  default `--auto unanimous`, which finds no annotator journal changed and reads
  nothing.
- Bytecode cached, as an installed package has it (PYTHONDONTWRITEBYTECODE unset for
  the launches; the untimed first launch writes it).
- Launch to first paint: from process start until the text of the unit in focus (the
  first unit) is written to a 100x30 pseudo-terminal; median of N launches interleaved
  with the minimal app's (one `Static`). The whole-corpus read (which units disagree,
  the counts) runs in a thread after that: the time until its counts are drawn is a
  row of its own (info).
- Keypress to repaint: the real entry point in a pty, once the counts are drawn; a
  label hotkey (`s`, toggling a device in the gold: a durable gold-journal write and
  the redraw) written to the pty, the time until the app's first output after it;
  median and p95 over the presses, 50 ms apart; the gold journal is checked to hold
  one event per press. The minimal app's one-line update the same way, and
  `annotate` on the same store with the same key (its label toggle), for comparison.

- `--baseline DIR` (an older tree of the project, e.g. `git archive` of a commit):
  its first paint and gold toggle are measured in the same run, interleaved with this
  tree's, both launched as `env PYTHONPATH=<tree> python -m annotator ...` (the same
  wrapper for both); beside the keypress rows, the app's CPU per press (all threads,
  /proc/PID/task/*/schedstat: not blurred by the disk flush).

Targets (as annotate): first paint <= 1.2x the minimal app, annotate's reopen target
(a curator reopens a merged store: nothing is imported or merged first), and < 500 ms;
keypress <= 1.5x the minimal app and < 16 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_adjudicate import PARAS, SCHEMA, build  # noqa: E402
from bench_import import pct  # noqa: E402
from bench_tui import MINIMAL_APP, compile_bytecode, launch, pty_keypress_times  # noqa: E402

from annotator.adjudication.auto import auto_merge  # noqa: E402
from annotator.store import SQLiteStore  # noqa: E402
from annotator.store.base import GOLD  # noqa: E402


def prepare(project: Path) -> None:
    """The gold pre-filled once (untimed), with its stamp: the launch reads nothing."""
    store = SQLiteStore(project / ".annotator")
    try:
        t = time.perf_counter()
        r = auto_merge(store, SCHEMA, "unanimous", curator="bench")
        if not r.skipped:
            print(f"pre-filled {r.merged:,} units in {time.perf_counter() - t:.1f} s",
                  file=sys.stderr)
    finally:
        store.close()


def gold_events(project: Path) -> int:
    store = SQLiteStore(project / ".annotator")
    try:
        return store.journal(GOLD).conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        store.close()


def main() -> None:
    compile_bytecode()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--presses", type=int, default=200)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="an older tree: its first paint and gold toggle in the same run")
    args = ap.parse_args()
    # As installed (pip writes bytecode): the untimed first launch caches it, for our
    # modules and the minimal app's alike.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    load = [os.getloadavg()[0]]
    project = build(args.out, args.units)
    # annotate's rows write a journal of their own: never left for the next run
    keys_journal = project / ".annotator" / "journals" / "bench-keys"
    shutil.rmtree(keys_journal, ignore_errors=True)
    prepare(project)
    py = sys.executable
    argv = [py, "-m", "annotator", "adjudicate", "--as", "bench", "--project", str(project)]
    if args.baseline is not None:  # the same wrapper for both trees
        base_argv = ["env", f"PYTHONPATH={args.baseline.resolve()}", *argv]
        argv = ["env", f"PYTHONPATH={ROOT}", *argv]
    marker = "paragraph 0 of 0"  # doc-000000's first unit: what the screen opens on
    counted = "with disagreement"  # the progress line, once the whole-corpus read is in
    with tempfile.TemporaryDirectory(prefix="annotator-bench-adj-") as tmp_dir:
        tmp = Path(tmp_dir)
        minimal = tmp / "minimal_app.py"
        minimal.write_text(MINIMAL_APP, encoding="utf-8")
        launch(argv, marker, tmp, timeout=120)  # warm the page cache, untimed
        launch([py, str(minimal)], "minimalbenchmarkmarker", tmp)
        # annotate on the same store, the same key, in the same run: "same targets"
        ann_argv = [py, "-m", "annotator", "annotate", "--as", "bench-keys", "--project",
                    str(project)]
        launch(ann_argv, "paragraph", tmp)
        t_min, t_adj, t_read, ann_first, t_base = [], [], [], [], []
        if args.baseline is not None:
            launch(base_argv, marker, tmp, timeout=120)  # its bytecode written, untimed
        for _ in range(args.runs):  # interleaved, so drift hits all rows alike
            t_min.append(launch([py, str(minimal)], "minimalbenchmarkmarker", tmp)[0])
            t_adj.append(launch(argv, marker, tmp)[0])
            if args.baseline is not None:
                t_base.append(launch(base_argv, marker, tmp)[0])
            ann_first.append(launch(ann_argv, "paragraph", tmp)[0])
            t_read.append(launch(argv, counted, tmp, timeout=120)[0])
        before = gold_events(project)
        cpu_min: list[float] = []
        cpu_adj: list[float] = []
        cpu_base: list[float] = []
        base_keys: list[float] = []
        keys: list[float] = []
        min_keys: list[float] = []
        # in rounds, interleaved: this tree, the baseline, the minimal app
        rounds = 3 if args.baseline is not None else 1
        per = max(1, args.presses // rounds)
        for _ in range(rounds):
            min_keys += pty_keypress_times([py, str(minimal)], "minimalbenchmarkmarker",
                                           tmp, b"s", per, cpu=cpu_min)
            keys += pty_keypress_times(argv, counted, tmp, b"s", per, cpu=cpu_adj)
            if args.baseline is not None:
                base_keys += pty_keypress_times(base_argv, counted, tmp, b"s", per,
                                                cpu=cpu_base)
        writes = gold_events(project) - before
        try:
            ann_keys = pty_keypress_times(ann_argv, "paragraph", tmp, b"s", args.presses)
        finally:
            shutil.rmtree(keys_journal, ignore_errors=True)
    load.append(os.getloadavg()[0])
    want = len(keys) + len(base_keys)
    assert writes == want, f"{writes} gold writes for {want} presses"
    m_min, m_adj, m_read = (statistics.median(x) for x in (t_min, t_adj, t_read))
    k_med, k_min = statistics.median(keys), statistics.median(min_keys)
    k_ann, m_ann = statistics.median(ann_keys), statistics.median(ann_first)
    n_docs = args.units // PARAS
    print(f"\n{args.units:,} units ({n_docs:,} documents) x 3 annotators; launches: median "
          f"of {args.runs}; keypresses: {args.presses} gold label toggles ({writes} durable "
          f"gold writes); load average {load[0]:.2f} -> {load[1]:.2f}\n")
    rows = [
        ("adjudicate: launch to first paint", f"{m_adj * 1000:.0f} ms", "< 500 ms",
         m_adj < 0.5),
        ("minimal Textual app (Static): launch to first paint", f"{m_min * 1000:.0f} ms",
         "(reference)", None),
        ("ratio adjudicate / minimal", f"{m_adj / m_min:.2f}x", "<= 1.2x",
         m_adj / m_min <= 1.2),
        ("annotate, same store: launch to first paint",
         f"{m_ann * 1000:.0f} ms", "(info)", None),
        ("ratio adjudicate / annotate, first paint", f"{m_adj / m_ann:.2f}x", "(info)", None),
        ("adjudicate: launch to the counts drawn (read in a thread)",
         f"{m_read * 1000:.0f} ms", "(info)", None),
        ("adjudicate: keypress to repaint (pty), gold toggle, median", f"{k_med:.1f} ms",
         "< 16 ms", k_med < 16),
        ("minimal app: keypress to repaint (pty), median", f"{k_min:.1f} ms",
         "(reference)", None),
        ("ratio keypress / minimal", f"{k_med / k_min:.2f}x", "<= 1.5x", k_med / k_min <= 1.5),
        ("annotate, same store: keypress to repaint (pty), label toggle, median",
         f"{k_ann:.1f} ms", "(info)", None),
        ("ratio adjudicate keypress / annotate keypress", f"{k_med / k_ann:.2f}x", "(info)",
         None),
        ("adjudicate: keypress to repaint (pty), p95", f"{pct(keys, 0.95):.1f} ms", "(info)",
         None),
        ("adjudicate: CPU per gold toggle (all threads)",
         f"{statistics.median(cpu_adj):.2f} ms", "(info)", None),
        ("minimal app: CPU per keypress", f"{statistics.median(cpu_min):.2f} ms",
         "(reference)", None),
    ]
    if args.baseline is not None:
        m_base, k_base = statistics.median(t_base), statistics.median(base_keys)
        rows += [
            ("baseline tree: launch to first paint", f"{m_base * 1000:.0f} ms", "(before)",
             None),
            ("baseline ratio first paint / minimal", f"{m_base / m_min:.2f}x", "(before)",
             None),
            ("baseline tree: keypress to repaint (pty), median", f"{k_base:.1f} ms",
             "(before)", None),
            ("baseline ratio keypress / minimal", f"{k_base / k_min:.2f}x", "(before)", None),
            ("baseline tree: CPU per gold toggle", f"{statistics.median(cpu_base):.2f} ms",
             "(before)", None),
        ]
    print(f"{'measure':<60} {'value':>10}   {'target':<12} result")
    print("-" * 96)
    for name, value, target, ok in rows:
        print(f"{name:<60} {value:>10}   {target:<12} "
              f"{'' if ok is None else 'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
