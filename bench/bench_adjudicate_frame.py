"""The adjudication screen's frame after a gold toggle: CPU of the partial update by
`SpanCompositor` (tui/compositor.py) against Textual's own compositor, on the
same dirty regions in the same process, and which widgets each renders.

    .venv/bin/python bench/bench_adjudicate_frame.py --units 20000 --presses 200

Method: the screen in `App.run_test` (100x30) on bench_adjudicate's store (cached
under bench/out/), after its whole-corpus read; `s` (a gold label toggle) pressed N
times. At each partial update both compositors render it, in alternating order (the
first of the two renders the widgets' changed lines, the second finds them cached:
each gets each role half the time); the bytes for the terminal are checked equal.
CPU by `time.process_time`; medians per role.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_adjudicate import build  # noqa: E402
from bench_adjudicate_tui import prepare  # noqa: E402
from rich.console import Console  # noqa: E402
from textual._compositor import Compositor  # noqa: E402
from textual.widget import Widget  # noqa: E402

from annotator.adjudication.session import open_session  # noqa: E402
from annotator.project import Project  # noqa: E402
from annotator.tui.adjudicate import AdjudicatorApp  # noqa: E402
from annotator.tui.compositor import SpanCompositor  # noqa: E402


async def run(project: Path, presses: int) -> None:
    proj = Project(str(project))
    session, _, _ = open_session(proj.store, proj.load_schema(None), "bench", "unanimous")
    app = AdjudicatorApp(session)
    console = Console(color_system="truecolor", force_terminal=True, width=100)
    cpu: dict[str, list[float]] = {}
    widgets: dict[str, Counter[str]] = {"span": Counter(), "textual": Counter()}
    differ = [0]
    on = [False]
    current = ["span"]
    ours = SpanCompositor.render_partial_update
    render_lines = Widget.render_lines

    def counted(self: Widget, crop):
        if on[0]:
            widgets[current[0]][type(self).__name__] += 1
        return render_lines(self, crop)

    def both(self: SpanCompositor):
        if not on[0]:
            return ours(self)
        dirty = set(self._dirty_regions)
        order = [("span", ours), ("textual", Compositor.render_partial_update)]
        if len(cpu.get("span first", ())) > len(cpu.get("textual first", ())):
            order.reverse()
        out = {}
        for i, (name, method) in enumerate(order):
            if i:
                self._dirty_regions.update(dirty)
            current[0] = name
            t = time.process_time()
            out[name] = method(self)
            cpu.setdefault(f"{name} {'first' if i == 0 else 'second'}", []).append(
                (time.process_time() - t) * 1000)
        if out["span"] is not None and (out["span"].render_segments(console)
                                        != out["textual"].render_segments(console)):
            differ[0] += 1
        return out["span"]

    SpanCompositor.render_partial_update = both
    Widget.render_lines = counted
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            while not session.ready:
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            for _ in range(5):
                await pilot.press("s")
                await pilot.pause()
            on[0] = True
            for _ in range(presses):
                await pilot.press("s")
                await pilot.pause()
            on[0] = False
    finally:
        SpanCompositor.render_partial_update = ours
        Widget.render_lines = render_lines
        proj.close()
    n = len(cpu.get("span first", [])) + len(cpu.get("span second", []))
    print(f"{n} partial updates over {presses} gold toggles; bytes differing: {differ[0]}")
    for name in ("span first", "textual first", "span second", "textual second"):
        print(f"  {name:<16} {statistics.median(cpu[name]):.3f} ms CPU (median of "
              f"{len(cpu[name])})")
    for name, counts in widgets.items():
        print(f"  render calls per update, {name}: {sum(counts.values()) / n:.1f} "
              f"({', '.join(sorted(counts))})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=20_000)
    ap.add_argument("--presses", type=int, default=200)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = ap.parse_args()
    project = build(args.out, args.units)
    prepare(project)
    asyncio.run(run(project, args.presses))


if __name__ == "__main__":
    main()
