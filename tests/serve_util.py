"""Helpers for the `annotator serve` tests and bench: the real server in a subprocess,
HTTP with urllib, a headless Chromium driven by Playwright, and a small screen model.

The browser is Debian's Chromium (`/usr/bin/chromium`, installed by .ci/run), driven
through Playwright's `executable_path`: Playwright's own browser download is never
used. What the page's terminal received over its websocket is recorded in the page
(`window.__rx`, by wrapping WebSocket before the page's script runs) and replayed into
`Screen`, a minimal terminal model (cursor moves, erase, text), so a test reads the
text the browser drew without OCR.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
URL_LINE = re.compile(r"serving .* on (http://\S+/) ")


def have_browser() -> bool:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).is_file()


def demo_project(tmp: Path, team: str | None = None) -> Path:
    """A project with a copy of the demo corpus and schemas, imported."""
    root = tmp / "proj"
    root.mkdir()
    shutil.copytree(REPO / "corpora", root / "corpora")
    shutil.copytree(REPO / "schemas", root / "schemas")
    (root / "annotator.yaml").write_text(
        "schema: schemas/framing-devices.yaml\ncorpus:\n  - corpora/demo\n" + (team or ""))
    run_cli("import", "corpora/demo", cwd=root, check=True)
    return root


def run_cli(*args: str, cwd: Path, check: bool = False, timeout: float = 120
            ) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "annotator", *args], cwd=cwd,
                       capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def add_user(root: Path, name: str) -> str:
    r = run_cli("serve", "--add-user", name, "--project", str(root), cwd=root, check=True)
    return r.stdout.strip().splitlines()[-1]


class Server:
    """`annotator serve --port 0` in its own process; `url` once it listens."""

    def __init__(self, root: Path, *extra: str) -> None:
        fd, self.log = tempfile.mkstemp(prefix="annotator-serve-", suffix=".log")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "annotator", "serve", "--port", "0", "--project",
             str(root), *extra], cwd=root, stdout=fd, stderr=subprocess.STDOUT)
        os.close(fd)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = URL_LINE.search(self.output())
            if m:
                self.url = m.group(1)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"server did not start: {self.output()}")

    def output(self) -> str:
        return Path(self.log).read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def app_pids(self) -> list[int]:
        """The app processes this server started (its children)."""
        import psutil

        try:
            return [c.pid for c in psutil.Process(self.proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            os.unlink(self.log)


# -- HTTP -------------------------------------------------------------------------------
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):  # keep the 303 and its Set-Cookie
        return None


def http(url: str, data: dict | None = None, cookie: str | None = None,
         headers: dict | None = None) -> tuple[int, dict, str]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers=dict(headers or {}))
    if cookie:
        req.add_header("Cookie", cookie)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=20) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8", "replace")


def login(base: str, name: str, secret: str) -> str | None:
    """The session cookie ("annotator_session=...") for a good login, else None."""
    status, headers, _ = http(base + "login", {"name": name, "secret": secret})
    if status != 303:
        return None
    return headers["Set-Cookie"].split(";", 1)[0]


# -- the screen the browser drew ----------------------------------------------------------
CSI = re.compile(r"\x1b\[([0-9;?<>=]*)([ -/]*)([@-~])")
OSC = re.compile(r"\x1b\][^\x07\x1b]*(\x07|\x1b\\)")


class Screen:
    """Enough of a terminal for Textual's output: CUP/CUU/CUD/CUF/CUB, ED, EL, text
    (wrapping at the right edge)."""

    def __init__(self, width: int, height: int) -> None:
        self.w, self.h = width, height
        self.rows = [[" "] * width for _ in range(height)]
        self.x = self.y = 0

    def feed(self, text: str) -> Screen:
        text = OSC.sub("", text)
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "\x1b":
                m = CSI.match(text, i)
                if m:
                    self._csi(m.group(1), m.group(3))
                    i = m.end()
                    continue
                i += 2
                continue
            if ch == "\r":
                self.x = 0
            elif ch == "\n":
                self.y = min(self.y + 1, self.h - 1)
            elif ch >= " ":
                if self.x >= self.w:  # auto-wrap, as xterm.js does
                    self.x, self.y = 0, min(self.y + 1, self.h - 1)
                self.rows[self.y][self.x] = ch
                self.x += 1
            i += 1
        return self

    def _csi(self, params: str, final: str) -> None:
        if params.startswith("?"):
            return
        nums = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else []
        n = (nums[0] if nums else 0) or 1
        if final in "Hf":
            self.y = min(max((nums[0] if nums else 1) or 1, 1), self.h) - 1
            self.x = min(max((nums[1] if len(nums) > 1 else 1) or 1, 1), self.w) - 1
        elif final == "A":
            self.y = max(self.y - n, 0)
        elif final == "B":
            self.y = min(self.y + n, self.h - 1)
        elif final == "C":
            self.x = min(self.x + n, self.w - 1)
        elif final == "D":
            self.x = max(self.x - n, 0)
        elif final == "G":
            self.x = min(n, self.w) - 1
        elif final == "J" and (nums[0] if nums else 0) == 2:
            self.rows = [[" "] * self.w for _ in range(self.h)]
        elif final == "K":
            mode = nums[0] if nums else 0
            row = self.rows[self.y]
            lo, hi = (self.x, self.w) if mode == 0 else (0, self.x + 1) if mode == 1 else \
                (0, self.w)
            for c in range(lo, min(hi, self.w)):
                row[c] = " "

    def text(self) -> str:
        return "\n".join("".join(r).rstrip() for r in self.rows)


# Wraps WebSocket before textual.js runs: every binary message the terminal gets is
# kept (as latin-1 text) with its arrival time.
RECORDER = """
(() => {
  const Orig = window.WebSocket;
  window.__rx = []; window.__rxTimes = [];
  window.WebSocket = function(url, protocols) {
    const ws = protocols ? new Orig(url, protocols) : new Orig(url);
    window.__ws = ws;
    ws.addEventListener('message', (e) => {
      if (typeof e.data !== 'string') {
        const b = new Uint8Array(e.data); let s = '';
        for (let i = 0; i < b.length; i += 8192)
          s += String.fromCharCode.apply(null, b.subarray(i, i + 8192));
        window.__rx.push(s); window.__rxTimes.push(performance.now());
      }
    });
    return ws;
  };
  window.WebSocket.prototype = Orig.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})();
"""


def received(page) -> str:
    raw = page.evaluate("window.__rx.join('')")
    return raw.encode("latin-1").decode("utf-8", "replace")


def screen_of(page, width: int, height: int) -> str:
    return Screen(width, height).feed(received(page)).text()


def terminal_size(page) -> tuple[int, int]:
    """The cols x rows textual.js asked for (its websocket URL's query)."""
    url = page.evaluate("window.__ws && window.__ws.url")
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    return int(q["width"][0]), int(q["height"][0])


def wait_screen(page, pattern: str | re.Pattern, timeout: float = 30) -> str:
    pat = re.compile(pattern) if isinstance(pattern, str) else pattern
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            w, h = terminal_size(page)
            text = screen_of(page, w, h)
            if pat.search(text):
                return text
        time.sleep(0.05)
    raise AssertionError(f"{pat.pattern!r} not on the browser's screen:\n{text}")


class Browsers:
    """Headless Chromiums (Debian's), each with a fresh profile directory, under one
    Playwright driver (its sync API allows one at a time)."""

    def __init__(self, playwright, tmp: Path) -> None:
        self.playwright, self.tmp, self.contexts = playwright, tmp, []

    def context(self):
        profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=self.tmp))
        ctx = self.playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 700})
        ctx.add_init_script(RECORDER)
        self.contexts.append(ctx)
        return ctx


@contextlib.contextmanager
def browsers(tmp: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = Browsers(p, tmp)
        try:
            yield b
        finally:
            for ctx in b.contexts:
                with contextlib.suppress(Exception):
                    ctx.close()


@contextlib.contextmanager
def browser(tmp: Path):
    """One headless Chromium with a fresh profile."""
    with browsers(tmp) as b:
        yield b.context()


def browser_login(ctx, base: str, name: str, secret: str):
    page = ctx.new_page()
    page.goto(base + "login")
    page.fill("#name", name)
    page.fill("#secret", secret)
    page.click("button[type=submit]")
    return page
