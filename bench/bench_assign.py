"""`annotator assign` on 100,000 documents x 20 annotators (target: under 5 s).

Builds (once, cached under bench/out/) a store of 100,000 one-paragraph documents,
then times, each in a fresh copy of its corpus database:
- baseline: the cheapest storage of the same number of rows (a fixed round-robin,
  no balancing, no randomness), in the same transaction shape: the cost floor;
- `plan_assignment` alone (the algorithm, in process);
- the real CLI, `annotator assign --per-document K --annotators ... --calibration 10`,
  in a subprocess, wall clock (start-up, planning, one transaction);
- a re-run after importing 1,000 more documents (only those are assigned).

    .venv/bin/python bench/bench_assign.py              # full size
    .venv/bin/python bench/bench_assign.py --docs 10000
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotator.corpus import Document  # noqa: E402
from annotator.store import SQLiteStore  # noqa: E402
from annotator.team.assign import plan_assignment  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"


def build(n_docs: int) -> Path:
    project = OUT / f"assign-{n_docs}"
    if (project / ".complete").exists():
        return project
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    store = SQLiteStore(project / ".annotator")
    store.import_documents(Document(f"doc-{d:06d}", None, [f"paragraph of {d}"])
                           for d in range(n_docs))
    store.close()
    (project / ".complete").touch()
    return project


def fresh_copy(src: Path, name: str) -> Path:
    dst = OUT / name
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--annotators", type=int, default=20)
    ap.add_argument("--per-document", type=int, default=3)
    args = ap.parse_args()
    names = [f"ann{i:02d}" for i in range(args.annotators)]
    k = args.per_document
    src = build(args.docs)
    rows_out = []

    # baseline: round-robin rows through the same store call (no planning to speak of)
    p = fresh_copy(src, "assign-baseline")
    store = SQLiteStore(p / ".annotator")
    t = time.perf_counter()
    store.add_assignments(lambda keys, existing: [
        (d, names[(i * k + j) % len(names)], False) for i, d in enumerate(keys)
        for j in range(k)])
    base = time.perf_counter() - t
    store.close()
    rows_out.append(("baseline: round-robin rows, one transaction (in process)", base, None))

    keys = list(range(1, args.docs + 1))
    t = time.perf_counter()
    plan = plan_assignment(keys, [], names, k, calibration=10, seed=1)
    rows_out.append(("plan_assignment alone (in process)", time.perf_counter() - t, None))
    assert len(plan.rows) == (args.docs - 10) * k + 10 * len(names)

    p = fresh_copy(src, "assign-cli")
    cmd = [sys.executable, "-m", "annotator", "assign", "--per-document", str(k),
           "--annotators", ",".join(names), "--calibration", "10", "--seed", "1",
           "--project", str(p)]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    cli = time.perf_counter() - t
    rows_out.append((f"`annotator assign` CLI, {args.docs:,} docs x {len(names)} annotators, "
                     f"K={k}", cli, 5.0))

    store = SQLiteStore(p / ".annotator")
    store.import_documents(Document(f"new-{d:06d}", None, ["p"]) for d in range(1000))
    store.close()
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    rows_out.append(("re-run after importing 1,000 more documents (CLI)",
                     time.perf_counter() - t, 5.0))

    print("| measure | seconds | target | result |\n|---|---|---|---|")
    for what, secs, target in rows_out:
        verdict = "" if target is None else ("PASS" if secs < target else "FAIL")
        print(f"| {what} | {secs:.2f} | {'' if target is None else f'< {target:g} s'} | "
              f"{verdict} |")
    print(f"\nCLI / baseline: {cli / base:.1f}x")


if __name__ == "__main__":
    main()
