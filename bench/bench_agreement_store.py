"""End-to-end agreement from a project store: `annotator agreement` as a user runs it.

Builds (once, cached under bench/out/) a store of 1,000,000 units (100,000 documents x
10 paragraphs) with 3 annotators' journals holding 20 labels of one multi layer with
10% of ratings missing — the same synthetic ratings as bench_agreement.py — written
with bulk SQL into the journals' derived tables (`units`, `labels`), exactly the rows
`Journal.apply` would leave. Then times the real CLI in a subprocess (our modules'
bytecode compiled first, as an install has it): the best wall clock of --repeat runs,
that run's CPU seconds, and the peak RSS.

    .venv/bin/python bench/bench_agreement_store.py            # full size
    .venv/bin/python bench/bench_agreement_store.py --units 50000
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_agreement import make_columns  # noqa: E402

from annotator.corpus import Document  # noqa: E402
from annotator.store import SQLiteStore  # noqa: E402

PARAS = 10


def new_project(project: Path, n_units: int, labels: list[str] | None = None) -> SQLiteStore:
    """A fresh project directory (emptied) whose store holds n_units // PARAS documents
    of PARAS paragraphs, and, given labels, `bench.yaml` with one multi layer of them.
    The other store benches (bench_postgres, bench_adjudicate) start from it too."""
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    if labels is not None:
        (project / "bench.yaml").write_text(
            "id: bench\nversion: 1\ntitle: bench\nlayers:\n  - id: devices\n    name: Devices\n"
            "    kind: multi\n    labels:\n"
            + "".join(f"      - {{id: {lab}, name: {lab}, description: d}}\n" for lab in labels),
            encoding="utf-8")
    store = SQLiteStore(project / ".annotator")
    store.import_documents(Document(f"doc-{d:06d}", None, [f"paragraph {p} of {d}"
                                                           for p in range(PARAS)])
                           for d in range(n_units // PARAS))
    return store


def build(root: Path, n_units: int) -> Path:
    project = root / f"agreement-store-{n_units}"
    marker = project / ".complete"
    if marker.exists():
        return project
    annotators, done, multi, schema = make_columns(n_units, 3, 20, 0.10, seed=0)
    labels = [lab.id for lab in schema.layers[0].labels]
    store = new_project(project, n_units, labels)
    state = json.dumps({"status": "done", "labels": {}, "spans": [], "relations": [],
                        "note": None, "flag": False})
    for a in annotators:
        j = store.journal(a)
        conn = j.conn
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO units VALUES (?,?,?,?,?,?,?,?,?)",
            ((f"doc-{u // PARAS:06d}", u % PARAS + 1, u // PARAS + 1, "done", state, "",
              "2026-11-23T00:00:00Z", 1.0, 0) for u in done[a].tolist()))
        for lab in labels:
            code = j._label_code("devices", lab)
            conn.executemany("INSERT INTO labels VALUES (?,?,?)",
                             ((code, u // PARAS + 1, u % PARAS + 1)
                              for u in multi["devices"][lab][a].tolist()))
        conn.execute("COMMIT")
    store.close()
    marker.touch()
    return project


def run(project: Path, *args: str, repeat: int = 1) -> tuple[float, dict]:
    """Best wall clock of `repeat` runs, with that run's CPU seconds (user + system of
    the child: on a shared machine the steadier figure) and the peak RSS."""
    best: tuple[float, dict] | None = None
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "annotator", "agreement", "--project",
                            str(project), "--schema", str(project / "bench.yaml"), "--json",
                            *args], capture_output=True, text=True, check=True)
        dt = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        info = {"report": json.loads(r.stdout), "cpu": cpu,
                "rss_mb": max(after.ru_maxrss, before.ru_maxrss) / 1024}
        if best is None or dt < best[0]:
            best = (dt, info)
    assert best is not None
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    ap.add_argument("--repeat", type=int, default=3, help="runs per row; the best counts")
    args = ap.parse_args()
    t0 = time.perf_counter()
    project = build(args.out, args.units)
    print(f"store ready in {time.perf_counter() - t0:.1f} s (cached after the first run)")
    # our bytecode, as an install has it (pip compiles at install): with
    # PYTHONDONTWRITEBYTECODE set, each timed run would compile every module from source
    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "annotator"), quiet=1)
    load_before = os.getloadavg()
    rows = []
    dt, info = run(project, "--bootstrap", "0", repeat=args.repeat)
    lab = info["report"]["layers"]["devices"]["labels"]["label00"]
    rows.append(("agreement from the store, no bootstrap (CLI, end to end)", dt, "< 5 s",
                 dt < 5, f"cpu {info['cpu']:.2f} s; units={info['report']['units']:,} "
                         f"alpha(label00)={lab['krippendorff_alpha']:.4f}"))
    dt2, info2 = run(project, "--bootstrap", "1000", "--seed", "1", repeat=args.repeat)
    lab2 = info2["report"]["layers"]["devices"]["labels"]["label00"]
    rows.append(("agreement with 1,000 bootstrap resamples (CLI)", dt2, "< 30 s", dt2 < 30,
                 f"cpu {info2['cpu']:.2f} s; alpha_ci95(label00)={lab2['alpha_ci95']}"))
    print(f"\nbest of {args.repeat} run(s) per row")
    print(f"{'row':<60} {'seconds':>8}  {'target':<7} result  note")
    print("-" * 110)
    for name, sec, target, ok, note in rows:
        print(f"{name:<60} {sec:>8.2f}  {target:<7} {'PASS' if ok else 'FAIL':<6}  {note}")
    print(f"{'peak RSS of the agreement process':<60} {info2['rss_mb']:>6.0f}MB")
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}, after: {:.2f} {:.2f} {:.2f}"
          .format(*load_before, *os.getloadavg()))


if __name__ == "__main__":
    main()
