"""Interchange formats at scale: export of 1,000,000 units in each format, import of
100,000 SemEval-layout articles.

    .venv/bin/python bench/bench_formats.py            # full size
    .venv/bin/python bench/bench_formats.py --quick    # 1/20 of it
    .venv/bin/python bench/bench_formats.py --only prodigy,label-studio
    .venv/bin/python bench/bench_formats.py --only import \
        --baseline /tmp/base --repeat 2   # the SemEval import only (no store built),
                                          # ours and an old checkout's, interleaved

Method
- Store (built once, cached under bench/out/): 100,000 documents x (title + 9 body
  paragraphs) = 1,000,000 units, imported from JSONL by `annotator import`; one
  annotator's journal with every unit annotated (labels of the `techniques` layer of
  schemas/semeval2023-persuasion.yaml on about half of them, ids drawn at random),
  its `units` rows written with bulk SQL exactly as `Journal.apply` leaves them.
  For the span formats (ptc, and spans in the others) a second cached store holds the
  same corpus annotated with schemas/ptc2020.yaml: one or two technique spans on
  every unit.
- Each export runs the real CLI (`python -m annotator export --format F --out ...`) in
  a subprocess: wall time, CPU seconds and peak RSS of that child (`os.wait4`: its own
  and those of the children it waited for, i.e. the second process of an export split
  over two, annotator/formats/split.py). The CLI is started by a small runner process
  (RUNNER below), not by this one: on Linux a child's peak RSS starts at its parent's
  peak (fork copies the memory map's high-water mark and exec keeps it in the
  process's maxrss), and this process grows to ~700 MB while it builds a store, which
  every later child then reported as its own peak. The runner is small, so the peak
  it reports for its child is the export's own (two processes when split: the larger).
- Outputs and the import's project go under `--out-dir` (default bench/out/runs), not
  /tmp: on the shared machine creating a file in /tmp measured 8-15x what it costs in
  the worktree on the same disk; the bench prints both before the rows.
  Baseline in the same run: the default JSONL export (`annotator export`), the path
  that existed before these formats.
- Import: 100,000 articles written in the SemEval-2023 layout (title, blank line, 9
  paragraphs, one per line, some blank lines between) plus their subtask-3 labels file
  (a row for every paragraph), imported with `import --format semeval2023-t3` into a
  fresh project. Baseline: the same texts as a corpus JSONL with plain `annotator
  import`.

Targets: export < 30 s and < 300 MB per format; import < 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench_import import generate_corpus  # noqa: E402

PERSUASION = ROOT / "schemas" / "semeval2023-persuasion.yaml"
PTC = ROOT / "schemas" / "ptc2020.yaml"


LAST_CPU = [0.0]  # CPU seconds of the last `cli` child (with the children it waited for)
LAST_RUNNER_MB = [0.0]  # the last runner's own peak RSS (see RUNNER)
BASE: list[str] = []  # --baseline ROOT: that checkout's code on the children's path

# Started fresh for each CLI run: runs the CLI and prints its wall time and rusage
# (os.wait4: the CLI's own and that of the children it waited for). A fresh, small
# process, so the peak RSS is the CLI's own and not inherited from a large parent.
RUNNER = """
import json, os, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps({"rc": os.waitstatus_to_exitcode(status),
                  "wall": time.perf_counter() - t0, "cpu": usage.ru_utime + usage.ru_stime,
                  "maxrss_kb": usage.ru_maxrss,
                  # the runner's own: what this bench's direct child reports (inherited)
                  "runner_kb": __import__("resource").getrusage(0).ru_maxrss}))
"""


def cli(*args: str, cwd: Path | None = None, base: bool = False) -> tuple[float, float]:
    """Run the real CLI in a child of a fresh runner (RUNNER): (wall seconds, the CLI's
    peak RSS in MB, the larger of its own and its split child's). `base`: with the
    --baseline checkout's code."""
    env, cwd = _code(base, cwd)
    proc = subprocess.run([sys.executable, "-c", RUNNER, sys.executable, "-m", "annotator",
                           *args], cwd=cwd, env=env, capture_output=True, text=True)
    try:
        got = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        sys.exit(f"runner failed ({proc.returncode}): {' '.join(args)}\n{proc.stderr[-3000:]}")
    LAST_CPU[0] = got["cpu"]
    LAST_RUNNER_MB[0] = got["runner_kb"] / 1024
    if got["rc"] != 0:
        sys.exit(f"failed ({got['rc']}): {' '.join(args)}\n{proc.stderr[-3000:]}")
    return got["wall"], got["maxrss_kb"] / 1024


def _code(base: bool, cwd: Path | None) -> tuple[dict, Path]:
    """The environment and working directory a child runs ours (this worktree) or the
    baseline's code with: `python -m` puts the working directory first on the path,
    before PYTHONPATH, so the baseline runs in its own checkout."""
    env = dict(os.environ)
    if base:
        env["PYTHONPATH"] = os.pathsep.join(BASE + [env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep)
        return env, cwd or Path(BASE[0])
    return env, cwd or ROOT


def code_path(base: bool) -> str:
    """Where a child imports `annotator` from (printed: a baseline that silently ran
    our code would compare ours with ours)."""
    env, cwd = _code(base, None)
    return subprocess.run([sys.executable, "-c", "import annotator; print(annotator.__file__)"],
                          cwd=cwd, env=env, capture_output=True, text=True).stdout.strip()


def build_store(docs: int, schema: Path, kind: str) -> Path:
    """A project of `docs` x 10 units with one annotator's annotation of every unit.

    The corpus goes through the real import (`annotator import`); the journal's
    `units` rows, which are all an export reads, are written with bulk SQL as
    `Journal.apply` leaves them (state JSON, status, the unit's hash, doc key, span
    count): replaying a million actions would make building the store, not the export
    under test, the long part."""
    project = OUT / f"formats-{kind}-{docs}"
    if (project / ".done").exists():
        return project
    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    corpus = generate_corpus(OUT / f"corpus-{docs}x9.jsonl", docs, paragraphs=9)
    cli("import", str(corpus), "--project", str(project))
    labels = [la["id"] for la in _labels(schema)]
    layer = _layer_id(schema)
    rng = random.Random(7)
    from annotator.store.sqlite import SQLiteStore

    store = SQLiteStore(project / ".annotator")
    journal = store.journal("alice")
    rows = []
    for doc in store.iter_documents():
        for u in store.units(doc.id):
            state = {"status": "done", "labels": {}, "spans": [], "relations": [],
                     "note": None, "flag": False}
            if kind == "labels":
                if rng.random() < 0.5:
                    state["labels"] = {layer: rng.sample(labels, rng.randint(1, 3))}
            else:
                for k in range(rng.randint(1, 2)):
                    a = rng.randrange(0, max(1, len(u.text) - 20))
                    b = min(len(u.text), a + rng.randint(5, 20))
                    state["spans"].append({"id": f"s{k + 1}", "layer": layer,
                                           "label": rng.choice(labels), "start": a, "end": b,
                                           "text": u.text[a:b], "attributes": {}})
            rows.append((doc.id, u.index, doc.key, "done", json.dumps(state, ensure_ascii=False),
                         u.sha, "2026-01-01T00:00:00.000000Z", 1.0, len(state["spans"])))
    conn = journal.conn
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO units (doc_id, unit, doc_key, status, state, unit_sha, "
                     "updated_at, seconds, n_spans) VALUES (?,?,?,?,?,?,?,?,?)", rows)
    conn.execute("COMMIT")
    store.close()
    (project / ".done").touch()
    return project


def _layer_id(schema: Path) -> str:
    import yaml

    return yaml.safe_load(schema.read_text())["layers"][0]["id"]


def _labels(schema: Path) -> list[dict]:
    import yaml

    return yaml.safe_load(schema.read_text())["layers"][0]["labels"]


def semeval_articles(root: Path, docs: int) -> Path:
    data = root / "semeval"
    if (data / ".done").exists():
        return data
    if data.exists():
        shutil.rmtree(data)
    arts = data / "articles"
    arts.mkdir(parents=True)
    rng = random.Random(3)
    corpus = generate_corpus(OUT / f"corpus-{docs}x9.jsonl", docs, paragraphs=9)
    labels = [la["id"] for la in _labels(PERSUASION)]
    with open(corpus, encoding="utf-8") as src, \
            open(data / "train-labels-subtask-3.txt", "w", encoding="utf-8") as lab:
        for n, line in enumerate(src):
            obj = json.loads(line)
            aid = str(100_000_000 + n)
            lines = [obj["title"], ""]
            for p in obj["paragraphs"]:
                lines.append(p)
                if rng.random() < 0.3:
                    lines.append("")
            (arts / f"article{aid}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
            for k, text in enumerate(lines, start=1):
                if text:
                    chosen = rng.sample(labels, rng.randint(0, 2))
                    lab.write(f"{aid}\t{k}\t{','.join(chosen)}\n")
    (data / ".done").touch()
    return data


def file_creation(where: Path, n: int = 2_000) -> float:
    """Seconds to create, write and close one small file in a new folder in `where`."""
    folder = Path(tempfile.mkdtemp(prefix="annotator-bench-files-", dir=where))
    try:
        t0 = time.perf_counter()
        for k in range(n):
            with open(folder / f"article{k}.txt", "w", encoding="utf-8") as fh:
                fh.write("x" * 2000)
        return (time.perf_counter() - t0) / n
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def row(name: str, value: str, target: str, ok: bool | None) -> None:
    result = "" if ok is None else ("PASS" if ok else "FAIL")
    print(f"{name:<52} {value:>16}   {target:<12} {result}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="5,000 documents instead of 100,000")
    ap.add_argument("--docs", type=int, default=None, help="documents (default 100,000)")
    ap.add_argument("--only", default="", help="comma-separated formats (default: all)")
    ap.add_argument("--out-dir", type=Path, default=OUT / "runs",
                    help="where the exports and the import's project are written "
                         "(default bench/out/runs; see file_creation below)")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="a checkout of the old code (e.g. `git worktree add --detach "
                         "/tmp/base main`): the SemEval import is also run with it, "
                         "interleaved with ours, --repeat times each")
    ap.add_argument("--repeat", type=int, default=1, help="SemEval import runs (default 1)")
    args = ap.parse_args()
    docs = args.docs or (5_000 if args.quick else 100_000)
    only = set(filter(None, args.only.split(",")))
    if args.baseline is not None:
        BASE.append(str(args.baseline.resolve()))
    t0 = time.perf_counter()
    labelled = spanned = OUT
    if only != {"import"}:  # `--only import`: no export, so no store to build
        labelled = build_store(docs, PERSUASION, "labels")
        spanned = build_store(docs, PTC, "spans")
        print(f"stores: {docs:,} documents, {docs * 10:,} units each, annotated by one "
              f"annotator ({time.perf_counter() - t0:.0f} s to build or load)\n")
    print(f"load average before the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'measure':<52} {'value':>16}   {'target':<12} result")
    print("-" * 92)
    # Where outputs go matters on a shared machine: creating files in /tmp measured
    # 8-10x slower than in the worktree on the same disk (other processes deleting
    # there, a `discard` mount), which is the file system, not the export. Both are
    # printed, so a run shows what it paid.
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for where in (Path(tempfile.gettempdir()), args.out_dir):
        print(f"creating 2,000 small files in {where}: {file_creation(where) * 1e6:.0f} us "
              "a file")
    tmp = Path(tempfile.mkdtemp(prefix="annotator-bench-formats-", dir=args.out_dir))
    try:
        plan = [("jsonl (default export, baseline)", None, labelled, PERSUASION),
                ("csv", "csv", labelled, PERSUASION), ("semeval2023-t3", "semeval2023-t3",
                                                       labelled, PERSUASION),
                ("ptc", "ptc", spanned, PTC), ("brat", "brat", spanned, PTC),
                ("prodigy", "prodigy", spanned, PTC), ("doccano", "doccano", spanned, PTC),
                ("label-studio", "label-studio", spanned, PTC),
                ("jsonl --annotator", "jsonl", labelled, PERSUASION),
                ("parquet", "parquet", spanned, PTC)]
        for name, fmt, project, schema in plan:
            if only and (fmt or "jsonl") not in only:
                continue
            ext = {"csv": ".csv", "parquet": ".parquet", "prodigy": ".jsonl", "jsonl": ".jsonl",
                   "label-studio": ".json"}.get(fmt or "jsonl", "")
            out = tmp / f"{(fmt or 'default')}{ext}"
            argv = ["export", "--out", str(out), "--schema", str(schema), "--project",
                    str(project), "--allow-loss"]
            if fmt:
                argv += ["--format", fmt]
                if fmt == "jsonl":
                    argv += ["--annotator", "alice"]
            else:
                argv.remove("--allow-loss")
            seconds, peak = cli(*argv)
            row(f"export {name}, wall", f"{seconds:.1f} s", "< 30 s", seconds < 30)
            row("  CPU (user + system, every process)", f"{LAST_CPU[0]:.1f} s", "", None)
            row("  load average after", f"{os.getloadavg()[0]:.1f}", "", None)
            row(f"export {name}, peak RSS ", f"{peak:.0f} MB", "< 300 MB",
                peak < 300)
            # what the previous measure (this process's own child) would have said
            row("  (the runner's own peak, from this process)",
                f"{LAST_RUNNER_MB[0]:.0f} MB", "", None)
            # kept until the end: deleting 100,000 files here makes the next format's
            # file creations wait on the file system's discards (measured: 8x slower)
        if not only or "import" in only:
            data = semeval_articles(OUT / f"semeval-{docs}", docs)
            corpus = OUT / f"corpus-{docs}x9.jsonl"
            plain = tmp / "plain"
            plain.mkdir()
            seconds, _ = cli("import", str(corpus), "--project", str(plain))
            row(f"import {docs:,} articles as corpus JSONL (baseline)", f"{seconds:.1f} s",
                "", None)
            row("  CPU (user + system)", f"{LAST_CPU[0]:.1f} s", "", None)
            runs = [("ours", False)] + ([("baseline", True)] if BASE else [])
            for who, base in runs:
                print(f"{who}: annotator from {code_path(base)}")
            for k in range(args.repeat):
                for who, base in (runs if k % 2 == 0 else runs[::-1]):
                    dest = tmp / f"sem-{who}-{k}"
                    dest.mkdir()
                    seconds, peak = cli("import", "--format", "semeval2023-t3", str(data),
                                        "--as", "s", "--schema", str(PERSUASION),
                                        "--project", str(dest), base=base)
                    label = "" if not BASE else f" ({who}, run {k + 1})"
                    row(f"import {docs:,} SemEval articles + labels{label}",
                        f"{seconds:.1f} s", "< 60 s", seconds < 60)
                    row("  CPU (user + system)", f"{LAST_CPU[0]:.1f} s", "", None)
                    row("  load average after", f"{os.getloadavg()[0]:.1f}", "", None)
                    row("  peak RSS ", f"{peak:.0f} MB", "", None)
                    shutil.rmtree(dest, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
