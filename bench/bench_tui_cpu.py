"""CPU seconds from process start to the first frame: annotate (reopen, first launch),
adjudicate, and a minimal Textual app, interleaved; optionally an older tree beside.

    .venv/bin/python bench/bench_tui_cpu.py --runs 10
    .venv/bin/python bench/bench_tui_cpu.py --runs 10 --before /tmp/old-tree \\
        --adjudicate bench/out/adjudicate-20000

Why CPU: on a shared machine the wall-clock rows of bench_tui.py swing with the load
(the minimal app's own median moved from 200 to 600 ms between runs of one morning);
the process's CPU time (all its threads, interpreter start-up included) to its first
frame moves much less, and is what a start-up change can save. Disk waits (fsync) are
not in it: the wall-clock rows stay the targets' rows.

Method: each launch runs in a fresh 100x30 pseudo-terminal. A small driver wraps
Textual's `App._display`; at the first frame handed to the terminal it notes
`time.process_time()` and exits. For our commands it calls `annotator.cli.main`
(for a tree with `_no_collection_until_painted`, Textual is imported where the CLI
imports it, after that call, as at a real launch); the minimal app is one `Static`,
as in bench_tui.py. `--before DIR`: a tree (its `annotator/` and `schemas/`) put on
PYTHONPATH, measured in the same rounds. Our bytecode is compiled first (as pip does).
Median (and min) of `--runs` interleaved rounds; the ratio is against the minimal app.
"""

from __future__ import annotations

import argparse
import compileall
import fcntl
import os
import select
import shutil
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
sys.path.insert(0, str(ROOT / "bench"))

from bench_tui import first_launch_project  # noqa: E402

DRIVER = textwrap.dedent('''
    import os, sys, time
    os.environ.setdefault("TEXTUAL_FPS", "120")
    mode, out = sys.argv[1], sys.argv[2]

    def patch():
        from textual.app import App
        display = App._display

        def first(self, screen, renderable):
            display(self, screen, renderable)
            if renderable is None or getattr(self, "_bench_done", False):
                return
            self._bench_done = True
            with open(out, "w") as f:
                f.write(f"{time.process_time()}\\n")
            self.exit(0)

        App._display = first

    if mode == "minimal":
        patch()
        from textual.app import App
        from textual.widgets import Static

        class Minimal(App):
            def compose(self):
                yield Static("minimalbenchmarkmarker")

        Minimal().run()
    else:
        import annotator.cli as cli
        off = getattr(cli, "_no_collection_until_painted", None)
        if off is None:
            patch()
        else:
            def then():
                off()
                patch()
            cli._no_collection_until_painted = then
        try:
            cli.main(sys.argv[3:])
        except SystemExit:
            pass
''')


def cpu_to_first_frame(argv: list[str], out: Path, cwd: Path, tree: str | None) -> float:
    out.unlink(missing_ok=True)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    env.pop("PYTHONPATH", None)
    if tree:
        env["PYTHONPATH"] = tree
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                            start_new_session=True)
    os.close(slave)
    tail, deadline = b"", time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if select.select([master], [], [], 0.05)[0]:
            try:
                tail = (tail + os.read(master, 65536))[-2000:]
            except OSError:
                break
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    os.close(master)
    if not out.exists():
        raise RuntimeError(f"{argv[3:]}: no frame; output tail: {tail!r}")
    return float(out.read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--before", help="an older tree to measure beside this one")
    ap.add_argument("--adjudicate", type=Path,
                    help="a project with annotators' journals (e.g. bench_adjudicate's)")
    args = ap.parse_args()
    compileall.compile_dir(str(ROOT / "annotator"), quiet=1)
    if args.before:
        compileall.compile_dir(str(Path(args.before) / "annotator"), quiet=1)
    py = sys.executable
    trees = {"this tree": None, **({"before": args.before} if args.before else {})}
    tmp = Path(tempfile.mkdtemp(prefix="annotator-bench-cpu-"))
    try:
        driver = tmp / "driver.py"
        driver.write_text(DRIVER, encoding="utf-8")
        out = tmp / "cpu.txt"
        demo = tmp / "demo"
        shutil.copytree(ROOT / "corpora" / "demo", demo / "corpora" / "demo")
        (demo / "annotator.yaml").write_text("corpus:\n  - corpora/demo\n", encoding="utf-8")
        subprocess.run([py, "-m", "annotator", "import", str(demo / "corpora" / "demo"),
                        "--project", str(demo)], check=True, capture_output=True)
        articles = [ROOT / "corpora" / "demo" / name for name in
                    ("ayuda-humanitaria-terremoto.txt", "ostrava-summons-envoy.txt")]
        load = [os.getloadavg()[0]]
        rows: dict[str, list[float]] = {"minimal Textual app": []}
        for _ in range(args.runs):  # interleaved, so drift hits all rows alike
            rows["minimal Textual app"].append(
                cpu_to_first_frame([py, str(driver), "minimal", str(out)], out, tmp, None))
            for name, tree in trees.items():
                who = ["--as", "bench"]
                rows.setdefault(f"annotate, reopening the demo project ({name})", []).append(
                    cpu_to_first_frame([py, str(driver), "app", str(out), "annotate",
                                        "--project", str(demo), *who], out, tmp, tree))
                fresh = first_launch_project(tmp, articles)
                rows.setdefault(f"annotate, first launch, two articles ({name})", []).append(
                    cpu_to_first_frame([py, str(driver), "app", str(out), "annotate",
                                        "--project", str(fresh), *who], out, tmp, tree))
                if args.adjudicate:
                    rows.setdefault(f"adjudicate, {args.adjudicate.name} ({name})", []).append(
                        cpu_to_first_frame([py, str(driver), "app", str(out), "adjudicate",
                                            "--project", str(args.adjudicate), *who],
                                           out, tmp, tree))
        load.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = statistics.median(rows["minimal Textual app"])
    print(f"CPU to the first frame, median of {args.runs} interleaved launches; "
          f"load {load[0]:.2f} -> {load[1]:.2f}\n")
    print(f"{'launch':<62} {'median':>8} {'min':>7} {'ratio':>7}")
    print("-" * 88)
    for name, values in rows.items():
        med = statistics.median(values)
        print(f"{name:<62} {med * 1000:>5.0f} ms {min(values) * 1000:>4.0f} ms "
              f"{med / base:>6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
