"""What a keypress costs on the wire: the raw bytes the terminal receives (tmux
pipe-pane), at 80x24 and 200x60. A label toggle must repaint its checkbox, the
progress count and the marks, not the screen (over a slow SSH link the bytes are the
latency). The figures themselves are bench rows (bench/bench_tui.py); this is the
regression guard, with a ceiling well above them and far below a repaint.

Local updates must also be right: after a run of keys, the screen must be exactly the
one a full repaint draws (a resize forces one), colours and styles included.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from tmux_harness import RecordingTmux, annotator_argv, demo_copy, have_tmux, settled

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(not have_tmux(), reason="tmux is not installed"),
]

# Measured: 140-800 bytes (the first toggle of a unit also marks it annotated). A
# whole-screen repaint was 4,150 bytes at 80x24 and 14,076 at 200x60.
TOGGLE_CEILING = 1500


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return demo_copy(tmp_path)


def _recorded(request: pytest.FixtureRequest, demo: Path, size: tuple[int, int],
              raw: Path) -> RecordingTmux:
    t = RecordingTmux.for_test(request, width=size[0], height=size[1])
    t.start_recorded(annotator_argv("annotate", "--project", str(demo), "--as", "alice"),
                     raw, cwd=demo)
    t.wait_for("annotated", timeout=30)
    return t


@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=["80x24", "200x60"])
def test_a_label_toggle_sends_a_few_hundred_bytes(request: pytest.FixtureRequest,
                                                   demo: Path, tmp_path: Path,
                                                   size: tuple[int, int]) -> None:
    raw = tmp_path / "pane.raw"
    t = _recorded(request, demo, size, raw)
    try:
        frame = len(settled(raw, quiet=0.5))
        sizes = []
        for expect in ("s [x] Sover", "s [ ] Sover", "s [x] Sover"):
            before = len(settled(raw))
            t.send("s")
            t.wait_for(expect)
            sizes.append(len(settled(raw)) - before)
        t.send("j")
        t.wait_for("¶1/")
        after_j = len(settled(raw))
        t.send("q")
        t.wait_dead()
    finally:
        t.close()
    print(f"\n{size}: first frame {frame:,} B, toggles {sizes}")
    assert all(0 < n <= TOGGLE_CEILING for n in sizes), (sizes, frame)
    assert frame > 4 * TOGGLE_CEILING  # the ceiling is far below a repaint
    assert after_j > 0


def _styled(t: RecordingTmux) -> str:
    return t.tmux("capture-pane", "-p", "-e", "-t", t.session).stdout


@pytest.mark.parametrize("keys", [
    ["s", "e", "1", "j", "s", "k", "f"],
    ["v", "w", "w", "W", "S", "Tab", "l", "l", "Escape", "Tab", "x", "u", "v", "w", "W", "Q"],
], ids=["labels", "spans"])
def test_local_updates_draw_what_a_full_repaint_draws(request: pytest.FixtureRequest,
                                                       demo: Path, tmp_path: Path,
                                                       keys: list[str]) -> None:
    t = _recorded(request, demo, (100, 30), tmp_path / "pane.raw")
    try:
        for key in keys:
            t.send(key)
            t.wait_stable(quiet=0.15, timeout=3)
        shown = _styled(t)
        t.tmux("resize-window", "-t", t.session, "-x", "101")
        t.wait_stable(quiet=0.3)
        t.tmux("resize-window", "-t", t.session, "-x", "100")
        t.wait_stable(quiet=0.5)
        repainted = _styled(t)
    finally:
        t.close()
    assert shown == repainted


COLOUR = re.compile(rb"\x1b\[[0-9;]*(?:[34]8;[25];)[0-9;]*m")  # 256-colour or 24-bit SGR


@pytest.mark.parametrize("env", ["NO_COLOR=1", "TERM=dumb"], ids=["NO_COLOR", "dumb"])
def test_no_colour_codes_with_no_color_or_a_dumb_terminal(request: pytest.FixtureRequest,
                                                           demo: Path, tmp_path: Path,
                                                           env: str) -> None:
    raw = tmp_path / "pane.raw"
    t = RecordingTmux.for_test(request, width=100, height=30)
    try:
        # through env(1): tmux sets the pane's TERM itself
        argv = [shutil.which("env") or "/usr/bin/env", env,
                *annotator_argv("annotate", "--project", str(demo), "--as", "alice")]
        t.start_recorded(argv, raw, cwd=demo)
        t.wait_for("annotated", timeout=30)
        t.send("s")
        t.wait_for("s [x] Sover")
        t.send("v")
        t.wait_for("SPAN")
        data = settled(raw)
        t.send("Escape", "q")
        t.wait_dead()
    finally:
        t.close()
    assert not COLOUR.findall(data), COLOUR.findall(data)[:5]
    assert b"\x1b[7m" in data or b";7m" in data or b";7;" in data  # reverse: the cursor
