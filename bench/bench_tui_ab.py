"""Keypress and reopen, this tree beside an older one and the minimal app, interleaved.

    .venv/bin/python bench/bench_tui_ab.py --before /tmp/old-tree --rounds 4

Why: bench_tui.py measures this tree against the minimal app; on this shared machine
two runs of it minutes apart are not comparable (the minimal app's own medians move
by 2x), so a before / after needs both trees in the same rounds. Each round runs, in
turn, the minimal app, every tree, with the same functions as bench_tui.py:
- keypress to changed screen in a pseudo-terminal (`pty_keypress_times`, label
  toggles 50 ms apart, each annotator a fresh journal), and the app's CPU per press
  (all its threads, /proc schedstat: steadier than wall time, which carries the
  commit's disk flush and the other sessions' I/O);
- launch to first paint reopening the demo project (`launch`), if `--launches`.
`--before DIR`: a tree (its `annotator/` and `schemas/`) put on PYTHONPATH. Both
trees' bytecode is compiled first, as pip does. Medians over all rounds.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_tui import (  # noqa: E402
    demo_and_minimal,
    first_unit_marker,
    launch,
    pty_keypress_times,
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", action="append", default=[],
                    help="an older tree to measure beside this one (repeatable)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--presses", type=int, default=100)
    ap.add_argument("--launches", type=int, default=5, help="reopen launches per round")
    args = ap.parse_args()
    py = sys.executable
    trees = {"this tree": None, **{f"before ({t})": t for t in args.before}}
    for tree in [str(ROOT), *args.before]:
        compileall.compile_dir(str(Path(tree) / "annotator"), quiet=1)
    tmp = Path(tempfile.mkdtemp(prefix="annotator-bench-ab-"))
    saved = os.environ.pop("PYTHONPATH", None)
    try:
        demo, minimal = demo_and_minimal(tmp)
        subprocess.run([py, "-m", "annotator", "import", str(demo / "corpora" / "demo"),
                        "--project", str(demo)], check=True, capture_output=True)
        marker = first_unit_marker(demo / ".annotator")
        names = ["minimal Textual app", *trees]
        wall: dict[str, list[float]] = {n: [] for n in names}
        cpu: dict[str, list[float]] = {n: [] for n in names}
        start: dict[str, list[float]] = {n: [] for n in names}
        load = [os.getloadavg()[0]]
        for r in range(args.rounds):  # interleaved, so drift hits all rows alike
            for name in names:
                tree = trees.get(name)
                if tree:
                    os.environ["PYTHONPATH"] = tree
                else:
                    os.environ.pop("PYTHONPATH", None)
                if name == names[0]:
                    argv, mark = [py, str(minimal)], "minimalbenchmarkmarker"
                else:
                    who = f"ab-{names.index(name)}-{r}"  # a fresh journal each time
                    argv = [py, "-m", "annotator", "annotate", "--project", str(demo),
                            "--as", who]
                    mark = marker
                wall[name] += pty_keypress_times(argv, mark, tmp, b"s", args.presses,
                                                 cpu=cpu[name])
                for _ in range(args.launches):
                    reopen = argv if name == names[0] else [*argv[:-1], "bench"]
                    start[name].append(launch(reopen, mark, tmp)[0])
            os.environ.pop("PYTHONPATH", None)
        load.append(os.getloadavg()[0])
    finally:
        if saved is not None:
            os.environ["PYTHONPATH"] = saved
        shutil.rmtree(tmp, ignore_errors=True)
    base_w = statistics.median(wall[names[0]])
    base_c = statistics.median(cpu[names[0]])
    print(f"{args.rounds} interleaved rounds of {args.presses} label toggles"
          f" and {args.launches} reopens; load {load[0]:.2f} -> {load[1]:.2f}\n")
    print(f"{'':<40} {'keypress':>9} {'ratio':>6} {'CPU/press':>10} {'ratio':>6}"
          f" {'reopen':>8} {'ratio':>6}")
    base_s = statistics.median(start[names[0]]) if args.launches else 0
    for name in names:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        line = (f"{name[:40]:<40} {w:>6.2f} ms {w / base_w:>5.2f}x {c:>7.2f} ms"
                f" {c / base_c:>5.2f}x")
        if args.launches:
            s = statistics.median(start[name])
            line += f" {s * 1000:>5.0f} ms {s / base_s:>5.2f}x"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
