"""`annotator serve` benchmark: login to first paint in a browser, and keypress to
changed screen in the browser vs over tmux, in the same run.

    .venv/bin/python bench/bench_serve.py             # 5 logins, 100 presses each side
    .venv/bin/python bench/bench_serve.py --quick     # 2 logins, 20 presses

Method
- The real server (`annotator serve --port 0`) on a copy of the demo corpus; Debian's
  Chromium, headless, driven by Playwright (tests/serve_util.py), fresh profile.
- Login to first paint: from the click on "Log in" (the form already filled) until
  the screen the page's terminal received (recorded in the page, replayed into a small
  terminal model) shows the position bar and the first unit: the POST, the redirect,
  the page and textual.js load, the websocket, the app process start (interpreter,
  imports, store open) and its first frame, all included. Polled every 20 ms from the
  driver. Median of N logins, each in a new tab after the last one's app has ended.
  Reference: the same app's launch to first paint in tmux (start of `annotate` until
  the same text is on tmux's screen, polled the same way).
- Keypress to changed screen: a label hotkey (on, off, ...), each press once the
  screen has been quiet. Browser: from the key press sent by the driver (Playwright's
  keyboard, a real key event in the page) until the next screen update has arrived in
  the page and a frame has been drawn after it (requestAnimationFrame), measured in
  the page; and the same from the driver's side (press call to the page reporting the
  update). tmux: from `tmux send-keys` until `capture-pane` differs from before the
  press, from the driver (what tmux's screen shows). The journal is checked to hold
  one event per press on each side.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

FRAME_RECORDER = """
(() => {
  window.__keyTimes = []; window.__frameTimes = [];
  window.addEventListener('keydown', () => window.__keyTimes.push(performance.now()), true);
  const push = Array.prototype.push;
  const watch = () => {
    if (!window.__rxTimes) return setTimeout(watch, 5);
    window.__rxTimes.push = function(...a) {
      requestAnimationFrame(() => window.__frameTimes.push(performance.now()));
      return push.apply(this, a);
    };
  };
  watch();
})();
"""
POSITION = re.compile(r"doc 1/\d+ .*annotated")


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def row(name: str, value: str, note: str = "") -> None:
    print(f"{name:<60} {value:>12}   {note}")


def quiet(page, ms: int = 250) -> None:
    """Until no screen update has arrived for `ms`."""
    while True:
        n = page.evaluate("window.__rx.length")
        time.sleep(ms / 1000)
        if page.evaluate("window.__rx.length") == n:
            return


def main() -> int:
    import serve_util as su
    from tmux_harness import Tmux

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 logins, 20 presses")
    ap.add_argument("--logins", type=int, default=None)
    ap.add_argument("--presses", type=int, default=None)
    args = ap.parse_args()
    logins = args.logins or (2 if args.quick else 5)
    presses = args.presses or (20 if args.quick else 100)

    tmp = Path(tempfile.mkdtemp(prefix="annotator-bench-serve-"))
    root = su.demo_project(tmp)
    secret = su.add_user(root, "bench")
    first_paint, key_page, key_frame, key_driver, key_tmux, tmux_launch = [], [], [], [], [], []
    with su.Server(root) as server, su.browser(tmp) as ctx:
        ctx.add_init_script(FRAME_RECORDER)
        # one untimed login: warms the page cache and the app's imports
        page = su.browser_login(ctx, server.url, "bench", secret)
        su.wait_screen(page, POSITION)
        page.close()
        for _ in range(logins):
            while server.app_pids():  # the last tab's app has ended
                time.sleep(0.05)
            page = ctx.new_page()
            page.goto(server.url + "login")
            page.fill("#name", "bench")
            page.fill("#secret", secret)
            t0 = time.perf_counter()
            page.click("button[type=submit]")
            while True:
                try:
                    w, h = su.terminal_size(page)
                    if POSITION.search(su.screen_of(page, w, h)):
                        break
                except Exception:
                    pass
                time.sleep(0.02)
            first_paint.append(time.perf_counter() - t0)
            page.close()
        while server.app_pids():
            time.sleep(0.05)

        page = su.browser_login(ctx, server.url, "bench", secret)
        su.wait_screen(page, POSITION)
        page.click("#terminal")
        quiet(page)
        for _ in range(presses):
            n_rx = page.evaluate("window.__rx.length")
            n_key = page.evaluate("window.__keyTimes.length")
            n_frame = page.evaluate("window.__frameTimes.length")
            t0 = time.perf_counter()
            page.keyboard.press("s")
            page.wait_for_function("n => window.__rx.length > n", arg=n_rx, polling="raf")
            key_driver.append((time.perf_counter() - t0) * 1000)
            page.wait_for_function("n => window.__frameTimes.length > n", arg=n_frame,
                                   polling="raf")
            k, rx, fr = page.evaluate(
                f"[window.__keyTimes[{n_key}], window.__rxTimes[{n_rx}], "
                f"window.__frameTimes[{n_frame}]]")
            key_page.append(rx - k)
            key_frame.append(fr - k)
            quiet(page, 120)
        page.close()
    from annotator.store import SQLiteStore

    events = len(SQLiteStore(root / ".annotator").journal("bench").events())
    assert events == presses, f"{events} journal writes for {presses} browser presses"

    # tmux: the same app, the same key, in a real terminal
    argv = [sys.executable, "-m", "annotator", "annotate", "--project", str(root),
            "--as", "bench-tmux"]
    for _ in range(logins):
        with Tmux("bench-serve", width=122, height=38) as t:
            t0 = time.perf_counter()
            t.start(argv, cwd=root)
            t.wait_for(POSITION, timeout=30, interval=0.02)
            tmux_launch.append(time.perf_counter() - t0)
    with Tmux("bench-serve", width=122, height=38) as t:
        t.start(argv, cwd=root)
        t.wait_for(POSITION, timeout=30)
        time.sleep(0.5)
        for _ in range(presses):
            before = t.capture()
            t0 = time.perf_counter()
            t.tmux("send-keys", "-t", t.session, "s")
            while t.capture() == before:
                pass
            key_tmux.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.12)
        t.send("q")
    events = len(SQLiteStore(root / ".annotator").journal("bench-tmux").events())
    assert events == presses, f"{events} journal writes for {presses} tmux presses"

    load = os.getloadavg()
    print(f"logins: median of {logins}; keypresses: {presses} label toggles per side "
          f"(each a durable journal write); load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    print(f"{'measure':<60} {'value':>12}   note")
    print("-" * 92)
    fp, tl = statistics.median(first_paint), statistics.median(tmux_launch)
    row("login to first paint in the browser, median", f"{fp * 1000:.0f} ms",
        f"max {max(first_paint) * 1000:.0f} ms")
    row("launch to first paint in tmux, median (reference)", f"{tl * 1000:.0f} ms")
    row("ratio browser login / tmux launch", f"{fp / tl:.2f}x")
    kf, kt = statistics.median(key_frame), statistics.median(key_tmux)
    row("keypress to changed screen, browser (in page, to frame), median",
        f"{kf:.1f} ms", f"p95 {pct(key_frame, .95):.1f} ms")
    row("keypress to update arriving, browser (in page), median",
        f"{statistics.median(key_page):.1f} ms", f"p95 {pct(key_page, .95):.1f} ms")
    row("keypress to changed screen, browser (from the driver), median",
        f"{statistics.median(key_driver):.1f} ms", f"p95 {pct(key_driver, .95):.1f} ms")
    row("keypress to changed screen, tmux (from the driver), median", f"{kt:.1f} ms",
        f"p95 {pct(key_tmux, .95):.1f} ms")
    row("ratio browser (driver) / tmux (driver)",
        f"{statistics.median(key_driver) / kt:.2f}x")
    subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
