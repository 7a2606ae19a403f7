"""Crash-safety bench: SIGKILL the real TUI at N random moments of one scripted session.

    .venv/bin/python bench/bench_crash.py            # 50 kills
    .venv/bin/python bench/bench_crash.py 200 --seed 7 --log

Method (the machinery is tests/test_crash_safety.py, the same as its tests): the demo
corpus and the default schema are copied into a temporary project; `python -m
annotator annotate --as bench` runs in a tmux pane of 100x50. A seeded random script
of label toggles, j / k, spans (v, l / w, a span label key), u, ctrl+r and enter is
typed; each key counts as confirmed once the screen shows the result a model of the
journal predicts. At a random moment the app is SIGKILLed: right after one more key
(in flight), after that key and 0-30 ms, or while idle. With the process dead, the
journal is read through the core: events stored against those confirmed, every unit's
state against the model (plus the in-flight action, if stored), the last frames on
screen against the store, `journal.verify()` (a replay of every event), the saved
position against the screen; then the app is relaunched, must open at that position
showing that state, and the script goes on (undo reaches across restarts).

Rows
- actions sent: keys that store an event (toggle, span label, enter, undo, redo),
  the in-flight ones included; keys sent counts every key.
- confirmed on screen: actions whose result the screen showed before the kill.
- events lost: confirmed actions not in the store (target 0).
- in-flight stored / not stored: in-flight actions the kill did not / did cut off
  (either is correct as long as nothing shown is missing).
- replay problems: findings of `journal.verify()` (target 0).
- reopen mismatches: saved position not the unit on screen (or the in-flight key's
  target), or the relaunched app elsewhere (target 0).
- relaunch to first paint: from `tmux new-session` to the first complete screen.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_crash_safety import HEIGHT, SEED, WIDTH, CrashError, CrashRun, make_project  # noqa: E402
from tmux_harness import Tmux, have_tmux  # noqa: E402


def table(stats, aborted: str | None) -> str:
    paint = stats.first_paint[1:] or stats.first_paint  # relaunches (not the import)
    rows = [
        ("kills (SIGKILL)", f"{stats.kills}"),
        ("  at once / after 0-30 ms / idle",
         " / ".join(str(stats.kill_modes.get(k, 0))
                    for k in ("at once", "after 0-30 ms", "idle"))),
        ("keys sent", f"{stats.keys_sent}"),
        ("actions sent", f"{stats.actions_sent}"),
        ("actions confirmed on screen", f"{stats.confirmed}"),
        ("events stored", f"{stats.events_stored}"),
        ("events lost", f"{stats.events_lost}"),
        ("in-flight actions stored", f"{stats.inflight_stored}"),
        ("in-flight actions not stored", f"{stats.inflight_not_stored}"),
        ("in-flight results shown before death", f"{stats.inflight_shown}"),
        ("undo / redo across a restart", f"{stats.cross_restart_undos}"),
        ("replay problems (verify)", f"{stats.replay_problems}"),
        ("reopen mismatches", f"{stats.reopen_mismatches}"),
        ("state / screen mismatches", f"{stats.state_mismatches} / {stats.screen_mismatches}"),
        ("frames captured half drawn (torn)", f"{stats.torn_frames}"),
        ("relaunch to first paint, mean",
         f"{statistics.mean(paint):.2f} s" if paint else "-"),
        ("relaunch to first paint, max", f"{max(paint):.2f} s" if paint else "-"),
        ("wall time", f"{stats.seconds:.0f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    out = [f"| {'measure':<{width}} | value |", f"|{'-' * (width + 2)}|-------|"]
    out += [f"| {name:<{width}} | {value} |" for name, value in rows]
    if aborted:
        out.append(f"\nABORTED: {aborted}")
    for problem in stats.problems:
        out.append(f"problem: {problem[:400]}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kills", nargs="?", type=int, default=50)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--log", action="store_true", help="print each kill")
    args = parser.parse_args(argv)
    if not have_tmux():
        print("bench_crash: tmux is not installed", file=sys.stderr)
        return 2
    aborted = None
    with tempfile.TemporaryDirectory(prefix="bench-crash-") as tmp, \
            Tmux("bench-crash", width=WIDTH, height=HEIGHT) as tmux:
        run = CrashRun(make_project(Path(tmp)), tmux, who="bench", seed=args.seed,
                       strict=False, log=print if args.log else None)
        t0 = time.monotonic()
        try:
            run.run(args.kills)
        except CrashError as exc:  # the screen lost step with the model
            aborted = str(exc)[:2000]
            run.stats.seconds = time.monotonic() - t0
    stats = run.stats
    print(f"bench_crash: {args.kills} kills, seed {args.seed}, tmux {tmux.width}x"
          f"{tmux.height}, demo corpus\n")
    print(table(stats, aborted))
    bad = aborted or stats.events_lost or stats.replay_problems or stats.reopen_mismatches \
        or stats.state_mismatches or stats.screen_mismatches
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
