"""TUI benchmark: launch to first paint, keypress to repaint, memory.

    .venv/bin/python bench/bench_tui.py            # with a 1,000,000-paragraph store
    .venv/bin/python bench/bench_tui.py --quick    # 20,000 paragraphs, fewer runs

Method
- Launch to first paint (wall time). The parent notes the time, then starts the real
  entry point, `python -m annotator annotate --project DIR --as bench`, in a
  subprocess whose stdin/stdout/stderr are a fresh pseudo-terminal of 100x30 cells
  (nothing instrumented inside the app). It reads the terminal output until the text
  of the unit in focus (a word of it that the app must draw) has been written: that
  moment is the first paint of real content, from process start, interpreter start-up
  and imports included. The child is then killed. Median of several launches.
  - demo corpus: `corpora/demo` copied into a temporary project, imported once by a
    first (untimed) launch, as an annotator finds it on their second day;
  - 1,000,000 paragraphs: 100,000 documents x 10 paragraphs (plus titles) generated as
    JSONL and imported with `annotator.importer.import_paths`; cached under bench/out/
    (gitignored) between runs;
  - a minimal Textual app (one `Static`) measured the same way in the same run, as the
    floor any Textual app pays; the ratio is demo / minimal.
- RSS with the 1,000,000-paragraph store open: the resident set size of that child
  (psutil) half a second after its first paint.
- Keypress to repaint in a real terminal: the real entry point in a pseudo-terminal
  on the demo corpus; the time from writing a label hotkey to the pty until the app's
  first output after it, which is the repainted frame (the handler stores the action
  durably before it redraws; the journal is checked to hold one event per press).
  Median and p95 over 200 presses, 50 ms apart. This is the row the target applies to.
  Beside it, for information, the app's CPU per press (all its threads, from
  /proc/PID/task/*/schedstat), which the commit's disk flush does not blur.
- Keypress to frame, in process with `App.run_test()` (for information): a Key event for a label hotkey
  is posted to the app, and the time is taken when the app has next displayed a frame
  AFTER the journal write of that toggle returned (the store's `apply` commits with
  synchronous=FULL, so the durable write is inside the measured time). The hook is
  Textual's `App.post_display_hook`, which runs after each frame is handed to the
  driver. Median and p95 over 200 presses (toggling on and off).

- Bytes per keypress: the real entry point in tmux at 80x24 and 200x60, the pane's
  output recorded by `pipe-pane` from the app's first byte (tests/tmux_harness.py
  RecordingTmux); six label toggles, then next / previous paragraph, each key sent
  once the output settled; the minimal app's one-line update the same way. The full
  first frame is the reference for "next paragraph <= half a frame".
- First launch: a fresh project holding two demo articles that `annotate` imports
  before its first paint (a new project per launch).
- `--no-big` skips the 1,000,000-paragraph rows (no store to build).

Targets: reopen <= 1.2x and first launch <= 1.5x the minimal app; keypress to
changed screen <= 1.5x the minimal app (and < 16 ms); label toggle <= 1 KB at both
sizes; next paragraph at 200x60 <= half a full frame; RSS < 150 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_import import generate_corpus, pct  # noqa: E402

COLS, ROWS = 100, 30
# The floor any Textual app pays: one line, updated by a key ("s", like a label toggle).
MINIMAL_APP = textwrap.dedent("""
    from textual.app import App
    from textual.widgets import Static

    class Minimal(App):
        BINDINGS = [("s", "bump", "bump"), ("q", "quit", "quit")]
        count = 0

        def compose(self):
            yield Static("minimalbenchmarkmarker", id="line")

        def action_bump(self):
            self.count += 1
            self.query_one("#line").update(f"minimalbenchmarkmarker {self.count}")

    Minimal().run()
""")


# --- launch to first paint -----------------------------------------------------------

def compile_bytecode() -> None:
    """Our modules' bytecode, as an installed package has it (pip compiles at install;
    Textual's is compiled): with PYTHONDONTWRITEBYTECODE set, an editable checkout
    would otherwise compile every module from source at each timed launch."""
    import compileall

    compileall.compile_dir(str(ROOT / "annotator"), quiet=1)


def launch(argv: list[str], marker: str, cwd: Path, timeout: float = 30.0,
           rss_after: float | None = None) -> tuple[float, float | None]:
    """Seconds from spawn until `marker` was written to the terminal; and the child's
    RSS in MB `rss_after` seconds after that (if asked)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor",
           "COLUMNS": str(COLS), "LINES": str(ROWS)}
    env.pop("TEXTUAL", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                            start_new_session=True, close_fds=True)
    os.close(slave)
    needle = marker.encode()
    buf = b""
    elapsed = None
    rss = None
    try:
        deadline = t0 + timeout
        while time.perf_counter() < deadline:
            r, _, _ = select.select([master], [], [], 0.05)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                buf += chunk
                if needle in buf:
                    elapsed = time.perf_counter() - t0
                    break
            elif proc.poll() is not None:
                break
        if elapsed is None:
            text = re.sub(rb"\x1b\[[0-9;?<>=$]*[A-Za-z]", b"", buf)[-2000:]
            raise RuntimeError(f"{argv[2:]}: {marker!r} never drawn (exit "
                               f"{proc.poll()}); output tail:\n{text.decode(errors='replace')}")
        if rss_after is not None:
            import psutil

            end = time.perf_counter() + rss_after
            while time.perf_counter() < end:  # keep draining so the app never blocks
                r, _, _ = select.select([master], [], [], 0.05)
                if r:
                    with contextlib.suppress(OSError):
                        os.read(master, 65536)
            rss = psutil.Process(proc.pid).memory_info().rss / 2**20
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        os.close(master)
    return elapsed, rss


def first_unit_marker(store_dir: Path) -> str:
    """A word the app must draw at start: from the first unit a new annotator sees."""
    from annotator.store.sqlite import SQLiteStore

    store = SQLiteStore(store_dir)
    try:
        j = store.journal("bench")
        doc_id, idx = j.position() or j.first_not_done()
        text = store.unit(doc_id, idx).text
    finally:
        store.close()
    words = sorted(re.findall(r"[A-Za-z]{4,}", text), key=len, reverse=True)
    return words[0]


def demo_and_minimal(tmp: Path) -> tuple[Path, Path]:
    """Under `tmp`: a project of the demo corpus (not imported yet) and the minimal
    Textual app's script."""
    demo = tmp / "demo"
    shutil.copytree(ROOT / "corpora" / "demo", demo / "corpora" / "demo")
    (demo / "annotator.yaml").write_text("corpus:\n  - corpora/demo\n", encoding="utf-8")
    minimal = tmp / "minimal_app.py"
    minimal.write_text(MINIMAL_APP, encoding="utf-8")
    return demo, minimal


def build_big_store(docs: int) -> Path:
    """A project dir with docs x 10 paragraphs imported (cached under bench/out/)."""
    from annotator.importer import import_paths
    from annotator.store.sqlite import SQLiteStore

    project = OUT / f"project-{docs}x10"
    done = project / ".complete"
    if done.exists():
        return project
    if project.exists():
        shutil.rmtree(project)
    corpus = generate_corpus(OUT / f"corpus-{docs}x10.jsonl", docs, 10)
    (project / "data").mkdir(parents=True)
    # the corpus stays outside the project so `annotate` never re-imports it
    t = time.perf_counter()
    store = SQLiteStore(project / ".annotator")
    import_paths(store, [corpus], project)
    store.close()
    print(f"built {docs:,}-document store in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    done.touch()
    return project


# --- keypress to repaint -------------------------------------------------------------

async def keypress_times(project: Path, presses: int) -> tuple[list[float], int]:
    # annotator.tui first, as in `annotator annotate`: it sets Textual's frame rate
    from annotator.tui.app import AnnotatorApp  # isort: skip
    from textual import events  # isort: skip

    from annotator.project import Project

    proj = Project(project)
    schema = proj.load_schema()
    journal = proj.store.journal("bench-keys", schema)
    app = AnnotatorApp(proj.store, journal, schema)
    label = schema.layers[0].labels[0]
    key = label.key
    writes = {"n": 0}
    state = {"waiting": False, "written": False}
    painted = asyncio.Event()
    apply = journal.apply

    def counting_apply(*a, **kw):
        change = apply(*a, **kw)
        writes["n"] += 1
        state["written"] = True
        return change

    journal.apply = counting_apply
    original_hook = app.post_display_hook

    def hook() -> None:
        original_hook()
        if state["waiting"] and state["written"]:
            state["waiting"] = False
            painted.set()

    app.post_display_hook = hook
    times: list[float] = []
    async with app.run_test(size=(COLS, ROWS)) as pilot:
        await pilot.pause()
        for _ in range(presses):
            painted.clear()
            state["written"] = False
            state["waiting"] = True
            t0 = time.perf_counter()
            app.post_message(events.Key(key, key))
            await asyncio.wait_for(painted.wait(), timeout=5)
            times.append((time.perf_counter() - t0) * 1000)
        await pilot.pause()
    proj.close()
    return times, writes["n"]


def process_cpu_ns(pid: int) -> int:
    """CPU time of every thread of `pid` so far, in ns (/proc/PID/task/*/schedstat:
    nanoseconds, where /proc/PID/stat counts 10 ms ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total


def pty_keypress_times(argv: list[str], marker: str, cwd: Path, key: bytes, presses: int,
                       gap: float = 0.05, cpu: list[float] | None = None) -> list[float]:
    """Keypress to repaint as the user's terminal sees it: the real entry point in a
    pseudo-terminal; ms from writing the key until the app's first output after it (the
    frame; the handler stores the action before it redraws). `gap` lets each frame finish
    before the next key. `cpu`: gets the app's CPU ms per press appended (all its
    threads, from the first press until the last frame settled; the idle gaps'
    timers included, which cost the minimal app and ours alike)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                            start_new_session=True, close_fds=True)
    os.close(slave)

    def drain(seconds: float) -> bytes:
        out, end = b"", time.perf_counter() + seconds
        while (left := end - time.perf_counter()) > 0:
            if not select.select([master], [], [], left)[0]:
                break
            try:
                out += os.read(master, 65536)
            except OSError:
                break
        return out

    try:
        buf, deadline = b"", time.perf_counter() + 30
        while marker.encode() not in buf and time.perf_counter() < deadline:
            buf += drain(0.1)
        drain(0.5)
        times = []
        cpu0 = process_cpu_ns(proc.pid)
        for _ in range(presses):
            t0 = time.perf_counter()
            os.write(master, key)
            if not select.select([master], [], [], 5)[0]:
                raise RuntimeError("no repaint after a keypress")
            times.append((time.perf_counter() - t0) * 1000)
            drain(gap)
        if cpu is not None:
            cpu.append((process_cpu_ns(proc.pid) - cpu0) / 1e6 / presses)
        os.write(master, b"q")
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return times


# --- bytes to the terminal per keypress (tmux pipe-pane) ------------------------------

def terminal_bytes(argv: list[str], marker: str, cwd: Path, size: tuple[int, int],
                   keys: list[str], warmup: tuple[str, ...] = ()) -> tuple[int, dict[str, list[int]]]:
    """Bytes the terminal received, recorded by `tmux pipe-pane` from the app's first
    byte: (first paint until the screen settles, {key: bytes after each press}). Each
    key is sent once the previous output has settled."""
    sys.path.insert(0, str(ROOT / "tests"))
    from tmux_harness import RecordingTmux, settled

    raw = Path(tempfile.mkdtemp(prefix="annotator-bench-bytes-")) / "pane.raw"
    out: dict[str, list[int]] = {}
    with RecordingTmux("bench", width=size[0], height=size[1]) as t:
        t.start_recorded(argv, raw, cwd=cwd)
        t.wait_for(marker, timeout=30)
        first = len(settled(raw, quiet=0.5))
        seen = first
        for key in warmup:
            t.send(key)
            seen = len(settled(raw, quiet=0.3))
        for key in keys:
            t.send(key)
            now = len(settled(raw, quiet=0.3))
            out.setdefault(key, []).append(now - seen)
            seen = now
        t.send("q")
    shutil.rmtree(raw.parent, ignore_errors=True)
    return first, out


def first_launch_project(tmp: Path, articles: list[Path]) -> Path:
    """A project holding `articles` that nothing has imported yet."""
    project = Path(tempfile.mkdtemp(prefix="first-", dir=tmp))
    (project / "corpus").mkdir()
    for article in articles:
        shutil.copy(article, project / "corpus" / article.name)
    (project / "annotator.yaml").write_text("corpus:\n  - corpus\n", encoding="utf-8")
    return project


# --- report --------------------------------------------------------------------------

def row(name: str, value: str, target: str, ok: bool | None) -> None:
    verdict = "" if ok is None else ("PASS" if ok else "FAIL")
    print(f"{name:<52} {value:>12}   {target:<16} {verdict}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="2,000 documents instead of 100,000, 3 launches, 50 presses")
    ap.add_argument("--runs", type=int, default=None, help="launches per row (default 5)")
    ap.add_argument("--presses", type=int, default=None, help="keypresses (default 200)")
    ap.add_argument("--no-big", action="store_true",
                    help="skip the rows of the large store (no store to build)")
    args = ap.parse_args()
    docs = 2_000 if args.quick else 100_000
    runs = args.runs or (3 if args.quick else 5)
    presses = args.presses or (50 if args.quick else 200)
    py = sys.executable

    compile_bytecode()
    big = None if args.no_big else build_big_store(docs)
    tmp = Path(tempfile.mkdtemp(prefix="annotator-bench-tui-"))
    try:
        demo, minimal = demo_and_minimal(tmp)

        demo_argv = [py, "-m", "annotator", "annotate", "--project", str(demo), "--as", "bench"]
        big_argv = [py, "-m", "annotator", "annotate", "--project", str(big), "--as", "bench"]
        # first launch imports the demo corpus (untimed); warm the page cache for both
        subprocess.run([py, "-m", "annotator", "import", str(demo / "corpora" / "demo"),
                        "--project", str(demo)], check=True, capture_output=True)
        demo_marker = first_unit_marker(demo / ".annotator")
        big_marker = first_unit_marker(big / ".annotator") if big else ""
        launch(demo_argv, demo_marker, tmp)
        launch([py, str(minimal)], "minimalbenchmarkmarker", tmp)
        # first launch: two articles that `annotate` imports before its first paint
        articles = [ROOT / "corpora" / "demo" / name for name in
                    ("ayuda-humanitaria-terremoto.txt", "ostrava-summons-envoy.txt")]
        scratch = first_launch_project(tmp, articles)
        subprocess.run([py, "-m", "annotator", "import", str(scratch / "corpus"),
                        "--project", str(scratch)], check=True, capture_output=True)
        first_marker = first_unit_marker(scratch / ".annotator")

        t_min, t_demo, t_big, t_first = [], [], [], []
        rss = None
        for i in range(runs):  # interleaved, so drift hits all rows alike
            t_min.append(launch([py, str(minimal)], "minimalbenchmarkmarker", tmp)[0])
            t_demo.append(launch(demo_argv, demo_marker, tmp)[0])
            fresh = first_launch_project(tmp, articles)
            t_first.append(launch([py, "-m", "annotator", "annotate", "--project", str(fresh),
                                   "--as", "bench"], first_marker, tmp)[0])
            if big:
                t, r = launch(big_argv, big_marker, tmp, rss_after=0.5 if i == 0 else None)
                t_big.append(t)
                rss = r if r is not None else rss
        m_min, m_demo, m_first = (statistics.median(x) for x in (t_min, t_demo, t_first))
        m_big = statistics.median(t_big) if t_big else None

        # bytes per keypress, ours and the minimal app's, at two terminal sizes
        toggles = ["s"] * 6  # on, off, ...: the first also marks the unit annotated
        byte_rows = {}
        for size in ((80, 24), (200, 60)):
            first, ours = terminal_bytes(
                [*demo_argv[:-1], f"bench-bytes-{size[0]}"], demo_marker, tmp, size,
                [*toggles, "j", "j", "j", "k"])
            min_first, mins = terminal_bytes([py, str(minimal)], "minimalbenchmarkmarker",
                                             tmp, size, toggles)
            byte_rows[size] = (first, ours, min_first, mins)
        min_cpu: list[float] = []
        min_pty = pty_keypress_times([py, str(minimal)], "minimalbenchmarkmarker", tmp, b"s",
                                     presses, cpu=min_cpu)

        keys, writes = asyncio.run(keypress_times(demo, presses))
        assert writes == presses, f"{writes} journal writes for {presses} presses"
        pty_argv = [py, "-m", "annotator", "annotate", "--project", str(demo), "--as",
                    "bench-pty"]
        pty_cpu: list[float] = []
        pty_keys = pty_keypress_times(pty_argv, demo_marker, tmp, b"s", presses, cpu=pty_cpu)
        from annotator.store import SQLiteStore

        pty_writes = len(SQLiteStore(demo / ".annotator").journal("bench-pty").events())
        assert pty_writes == presses, f"{pty_writes} journal writes for {presses} presses"

        n_units = docs * 11
        print(f"launches: median of {runs}; keypresses: {presses} label toggles "
              f"({writes} durable journal writes)\n")
        print(f"{'measure':<52} {'value':>12}   {'target':<16} result")
        print("-" * 92)
        row("launch to first paint, reopening the demo project", f"{m_demo * 1000:.0f} ms",
            "< 500 ms", m_demo < 0.5)
        row("launch to first paint, minimal Textual app (Static)",
            f"{m_min * 1000:.0f} ms", "(reference)", None)
        row("ratio reopen / minimal", f"{m_demo / m_min:.2f}x", "<= 1.2x", m_demo / m_min <= 1.2)
        row("first launch, importing two articles", f"{m_first * 1000:.0f} ms", "(info)", None)
        row("ratio first launch / minimal", f"{m_first / m_min:.2f}x", "<= 1.5x",
            m_first / m_min <= 1.5)
        if m_big is not None:
            row(f"launch to first paint, {docs * 10:,}-paragraph store",
                f"{m_big * 1000:.0f} ms", "< 500 ms", m_big < 0.5)
            row(f"ratio {docs * 10:,}-paragraph store / minimal", f"{m_big / m_min:.2f}x",
                "<= 1.5x", m_big / m_min <= 1.5)
        ours_med, min_med = statistics.median(pty_keys), statistics.median(min_pty)
        row("keypress to changed screen (pty), label toggle, median",
            f"{ours_med:.1f} ms", "< 16 ms", ours_med < 16)
        row("keypress to changed screen (pty), minimal app, median", f"{min_med:.1f} ms",
            "(reference)", None)
        row("ratio keypress / minimal", f"{ours_med / min_med:.2f}x", "<= 1.5x",
            ours_med / min_med <= 1.5)
        row("CPU per keypress (pty, all threads), label toggle", f"{pty_cpu[0]:.2f} ms",
            "(info)", None)
        row("CPU per keypress (pty, all threads), minimal app", f"{min_cpu[0]:.2f} ms",
            "(reference)", None)
        row("ratio CPU per keypress / minimal", f"{pty_cpu[0] / min_cpu[0]:.2f}x", "(info)",
            None)
        row("keypress to changed screen (pty), label toggle, p95",
            f"{pct(pty_keys, 0.95):.1f} ms", "(info)", None)
        row("keypress to frame in process (run_test), median",
            f"{statistics.median(keys):.1f} ms", "(info)", None)
        for (w, h), (first, ours, min_first, mins) in byte_rows.items():
            toggle = max(ours["s"])
            row(f"bytes, label toggle, {w}x{h} (max of {len(ours['s'])})", f"{toggle:,} B",
                "<= 1,024 B", toggle <= 1024)
            row(f"bytes, minimal app updating one line, {w}x{h}", f"{max(mins['s']):,} B",
                "(reference)", None)
            nxt = max(ours["j"] + ours["k"])
            row(f"bytes, next / previous paragraph, {w}x{h} (max)", f"{nxt:,} B",
                f"<= {first // 2:,} B" if (w, h) == (200, 60) else "(info)",
                nxt <= first / 2 if (w, h) == (200, 60) else None)
            row(f"bytes, full first frame, {w}x{h}", f"{first:,} B", "(reference)", None)
            row(f"bytes, minimal app's first frame, {w}x{h}", f"{min_first:,} B", "(info)", None)
        if rss is not None:
            row(f"RSS, {docs * 10:,}-paragraph store open ({n_units:,} units)",
                f"{rss:.0f} MB", "< 150 MB", rss < 150)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
