"""Drive the real entry point in a real terminal: a tmux server of our own.

Each `Tmux` has its own server socket (`tmux -L NAME`), started with no user config
(`-f /dev/null`), and `close()` kills that server and nothing else. Waiting is by
polling `capture-pane` until the expected text shows (never a blind sleep), so tests
are as fast as the app and still tolerate a slow CI machine.

Keys: `send("j")` sends tmux key names ("Enter", "Escape", "Down", "C-r", "S-Right");
`type("text")` sends literal text. tmux turns an Escape followed at once by a key into
alt+key, so `send` pauses after an Escape before the next key.

Exit status: `start(..., report_exit=True)` runs the app under the pane's shell, which
prints "EXIT=<status>" when it ends (`exit_status()` waits for it; 128+N if signal N
ended it); `start` then returns the app's own pid, not the shell's. When the pane itself
goes (`kill_session()`, the terminal hung up), `exit_recorder_argv` wraps the app in a
small process that outlives the hang-up (passing it on to the app, as a login shell
does, or not) and writes the app's status to a file (`read_exit_file`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

TMUX = shutil.which("tmux") or "/usr/bin/tmux"
ROOT = Path(__file__).resolve().parent.parent
ESCAPE_PAUSE = 0.35  # longer than tmux's escape-time and Textual's escape delay
EXIT_LINE = re.compile(r"^EXIT=(\d+)\s*$", re.MULTILINE)


def _default_terminal() -> str:
    for name in ("tmux-256color", "screen-256color"):
        for base in ("/usr/share/terminfo", "/lib/terminfo", "/etc/terminfo"):
            if (Path(base) / name[0] / name).exists():
                return name
    return "screen"


def have_tmux() -> bool:
    return Path(TMUX).is_file() and os.access(TMUX, os.X_OK)


class TmuxError(AssertionError):
    pass


class Tmux:
    def __init__(self, name: str = "t", width: int = 100, height: int = 30):
        self.socket = f"annotator-test-{os.getpid()}-{name}-{uuid.uuid4().hex[:8]}"
        self.width = width
        self.height = height
        self.session = "main"
        self.pids: list[int] = []  # pane processes we started, for teardown
        # Read when our server starts, so a pane that dies at once still keeps its
        # last screen (capture-pane after death) and no user config applies.
        fd, conf = tempfile.mkstemp(prefix="annotator-tmux-", suffix=".conf")
        with os.fdopen(fd, "w") as fh:
            fh.write("set -g remain-on-exit on\n"
                     f"set -g default-terminal {_default_terminal()}\n"
                     "set -g escape-time 10\n"
                     "set -g status off\n")
        self.conf = conf

    @classmethod
    def for_test(cls, request: Any, **kwargs: Any) -> Self:
        """One named after the test of a pytest `request` (use it as a context manager
        in a fixture: closed after the test)."""
        return cls(re.sub(r"\W", "", request.node.name)[:24], **kwargs)

    # -- plumbing ------------------------------------------------------------------
    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([TMUX, "-L", self.socket, "-f", self.conf, *args],
                              capture_output=True, text=True, timeout=20)
        if check and proc.returncode != 0:
            raise TmuxError(f"tmux {' '.join(args)}: {proc.stderr.strip()}")
        return proc

    def start(self, argv: list[str], env: dict[str, str] | None = None,
              cwd: Path | None = None, report_exit: bool = False) -> int:
        """Run argv as the pane's own process (no shell in between); returns its pid.
        `report_exit`: run it under the pane's shell, which prints "EXIT=<status>" when
        it ends (see `exit_status`); the pid returned is still argv's process."""
        full_env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor",
                    **(env or {})}
        full_env.pop("TMUX", None)  # we may be running inside someone's tmux
        full_env.pop("TEXTUAL", None)
        # `exec env ...` would start a shell; tmux runs a single string through
        # sh -c, which execs a simple command directly, so the pane pid is ours.
        command = ("exec " + shlex.join(argv) if not report_exit else
                   shlex.join(argv) + '; echo "EXIT=$?"')
        self.tmux("kill-session", "-t", self.session, check=False)  # a dead earlier pane
        for attempt in range(5):
            proc = subprocess.run(
                [TMUX, "-L", self.socket, "-f", self.conf, "new-session", "-d",
                 "-x", str(self.width), "-y", str(self.height), "-s", self.session,
                 "-c", str(cwd or ROOT), command],
                capture_output=True, text=True, env=full_env, timeout=20)
            # Killing the last session ends our server; a new-session that reaches it
            # while it is going down gets "server exited unexpectedly": start afresh.
            if proc.returncode == 0 or "server exited" not in proc.stderr:
                break
            time.sleep(0.1 * (attempt + 1))
        if proc.returncode != 0:
            raise TmuxError(f"tmux new-session: {proc.stderr.strip()}")
        pid = self.pane_pid()
        if report_exit:
            pid = child_pid(pid)
        self.pids.append(pid)
        return pid

    def close(self) -> None:
        """Kill our server (SIGHUP to its panes); SIGKILL a pane process of ours that
        outlives that, so a hung app never outlives its test."""
        self.tmux("kill-server", check=False)
        for pid in self.pids:
            if not pid_gone(pid, timeout=3.0):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                pid_gone(pid, timeout=3.0)
        with contextlib.suppress(OSError):
            os.unlink(self.conf)

    def __enter__(self) -> Tmux:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------
    def capture(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session).stdout

    def display(self, fmt: str) -> str:
        return self.tmux("display-message", "-p", "-t", self.session, fmt).stdout.strip()

    def pane_pid(self) -> int:
        return int(self.display("#{pane_pid}"))

    def pane_title(self) -> str:
        return self.display("#{pane_title}")

    def pane_dead(self) -> bool:
        proc = self.tmux("display-message", "-p", "-t", self.session, "#{pane_dead}",
                         check=False)
        return proc.returncode != 0 or proc.stdout.strip() == "1"

    def wait_for(self, expected: str | re.Pattern[str] | Callable[[str], bool],
                 timeout: float = 10.0, interval: float = 0.05) -> str:
        """Poll the screen until `expected` (text, a regex, or a predicate on the
        screen) holds; returns the screen. On timeout, fails showing the last screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while True:
            screen = self.capture()
            if isinstance(expected, re.Pattern):
                ok = expected.search(screen) is not None
            elif callable(expected):
                ok = expected(screen)
            else:
                ok = expected in screen
            if ok:
                return screen
            if time.monotonic() > deadline:
                what = (expected if isinstance(expected, str) else
                        expected.pattern if isinstance(expected, re.Pattern) else
                        getattr(expected, "__name__", "condition"))
                raise TmuxError(f"timed out after {timeout} s waiting for {what!r}; "
                                f"screen:\n{screen}")
            time.sleep(interval)

    def wait_dead(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.pane_dead():
            if time.monotonic() > deadline:
                raise TmuxError(f"the app did not exit; screen:\n{self.capture()}")
            time.sleep(0.05)

    def exit_status(self, timeout: float = 10.0) -> int:
        """The status printed by a `start(..., report_exit=True)` pane when its app ended
        (waits for it)."""
        screen = self.wait_for(EXIT_LINE, timeout=timeout)
        return int(EXIT_LINE.findall(screen)[-1])

    def wait_stable(self, quiet: float = 0.3, timeout: float = 10.0) -> str:
        """Wait until the screen has not changed for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        last = self.capture()
        since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.capture()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return now
        return last

    # -- writing -------------------------------------------------------------------
    def send(self, *keys: str) -> None:
        """tmux key names, one by one; pauses after Escape (else it becomes alt+key)."""
        for key in keys:
            self.tmux("send-keys", "-t", self.session, key)
            if key in ("Escape", "C-["):
                time.sleep(ESCAPE_PAUSE)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.session, "-l", text)

    def kill_session(self) -> None:
        """Closes the pane: tmux sends SIGHUP to the pane's process."""
        self.tmux("kill-session", "-t", self.session, check=False)


def demo_copy(tmp_path: Path) -> Path:
    """A project holding a copy of the demo corpus (not imported yet)."""
    project = tmp_path / "proj"
    shutil.copytree(ROOT / "corpora" / "demo", project / "corpora" / "demo")
    (project / "annotator.yaml").write_text("corpus:\n  - corpora/demo\n", encoding="utf-8")
    return project


def annotator_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "annotator", *args]


def pid_gone(pid: int, timeout: float = 10.0) -> bool:
    """True once `pid` has exited (a zombie counts as gone) with all its threads: while
    a process exits, its main thread can be a zombie already while another thread is
    still ending, and the open files (a session lock) are released only after that."""
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE and \
                    len(os.listdir(f"/proc/{pid}/task")) <= 1:
                return True
        except (psutil.NoSuchProcess, FileNotFoundError):
            return True
        time.sleep(0.05)
    return False


def kill9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def child_pid(parent: int, timeout: float = 10.0) -> int:
    """The pid of `parent`'s one child process, once it has started."""
    import psutil

    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(psutil.NoSuchProcess):
            children = psutil.Process(parent).children()
            if children:
                return children[0].pid
        if time.monotonic() > deadline:
            raise TmuxError(f"process {parent} started no child in {timeout} s")
        time.sleep(0.02)


# Runs argv as its child and writes the child's exit status (negative: killed by that
# signal) to a file. It outlives the terminal by a SIGHUP handler (not SIG_IGN, so the
# child starts with the default disposition: exec resets handlers). As the session
# leader it is the one the kernel sends SIGHUP to when the terminal goes; like a login
# shell it passes that on to the child, unless told not to (argv[2] == "keep"): then the
# child loses its terminal and never hears of it.
_EXIT_RECORDER = """\
import os, signal, subprocess, sys
child = subprocess.Popen(sys.argv[3:])
forward = sys.argv[2] == "forward"
signal.signal(signal.SIGHUP, lambda *_: forward and child.send_signal(signal.SIGHUP))
status = child.wait()
with open(sys.argv[1] + ".part", "w") as fh:
    fh.write(str(status))
os.replace(sys.argv[1] + ".part", sys.argv[1])
"""


def exit_recorder_argv(status_file: Path, argv: list[str],
                       forward_hangup: bool = True) -> list[str]:
    """argv wrapped so that its exit status lands in `status_file` even when the
    terminal goes away (`Tmux.kill_session`). `start` returns the wrapper's pid:
    `child_pid` of it is argv's process. `forward_hangup`: pass the SIGHUP of a closed
    terminal on to argv, as a login shell does."""
    return [sys.executable, "-c", _EXIT_RECORDER, str(status_file),
            "forward" if forward_hangup else "keep", *argv]


def read_exit_file(status_file: Path, timeout: float = 10.0) -> int:
    """The status `exit_recorder_argv` wrote (waits for it)."""
    deadline = time.monotonic() + timeout
    while not status_file.exists():
        if time.monotonic() > deadline:
            raise TmuxError(f"no exit status in {status_file} after {timeout} s")
        time.sleep(0.05)
    return int(status_file.read_text())


# The app starts only once the recording runs, so the stream holds its first byte.
_WAIT_THEN_EXEC = (
    "import os, sys, time\n"
    "while not os.path.exists(sys.argv[1]):\n"
    "    time.sleep(0.01)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


PANE_TITLE = "annotator-test-title"  # set when recording starts


class RecordingTmux(Tmux):
    """A Tmux whose pane output is also appended, byte for byte, to a file."""

    def start_recorded(self, argv: list[str], raw: Path, cwd: Path | None = None) -> int:
        go = raw.with_name(raw.name + ".go")
        pid = self.start([sys.executable, "-c", _WAIT_THEN_EXEC, str(go), *argv], cwd=cwd)
        self.tmux("pipe-pane", "-o", "-t", self.session, "cat >> " + shlex.quote(str(raw)))
        self.tmux("select-pane", "-t", self.session, "-T", PANE_TITLE)
        go.touch()
        return pid

    def paste(self, text: str) -> None:
        """A bracketed paste (the app asks for bracketed paste mode), as a terminal
        sends pasted text."""
        self.tmux("set-buffer", "-b", "hostile", text)
        self.tmux("paste-buffer", "-p", "-d", "-b", "hostile", "-t", self.session)


def settled(raw: Path, quiet: float = 0.3, timeout: float = 10.0) -> bytes:
    """The recording once `cat` has written all of it (its size stops changing)."""
    deadline = time.monotonic() + timeout
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = raw.stat().st_size if raw.exists() else 0
        if now != size:
            size, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        time.sleep(0.05)
    return raw.read_bytes()
