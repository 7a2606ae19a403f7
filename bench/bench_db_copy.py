"""`annotator db copy` both ways, this tree against an earlier commit, in the same run.

One PostgreSQL server (tests/pg_server.py, fsync on), the cached project of
bench_postgres.py (U units x 3 annotators x 20 labels). For each variant, one after
the other: `db copy --from sqlite --to postgresql://...` into a fresh database, then
`db copy` from that database back into a new SQLite project. The earlier commit runs
from a `git archive` of it on PYTHONPATH (same interpreter, same dependencies).
Prints wall seconds, client CPU seconds (RUSAGE_CHILDREN), server CPU seconds (its
processes in /proc) and the load before and after each copy.

    .venv/bin/python bench/bench_db_copy.py --units 100000 --before 3714e9e
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_postgres import build_sqlite, server_cpu  # noqa: E402
from pg_server import start_server  # noqa: E402

from annotator.store.postgres import init_database  # noqa: E402


def copy(args: list[str], cwd: Path, server, tree: Path | None) -> tuple[float, float, float,
                                                                         str]:
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    s0, l0 = server_cpu(server), os.getloadavg()[0]
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "annotator", "db", "copy", *args], cwd=cwd,
                       capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"db copy {' '.join(args)} failed:\n{r.stderr}")
    return (dt, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
            server_cpu(server) - s0, f"{l0:.2f} -> {os.getloadavg()[0]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=1_000_000)
    ap.add_argument("--before", help="an earlier commit to run first (e.g. 3714e9e)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-copy-"))
    variants: list[tuple[str, Path | None]] = []
    if args.before:
        tree = tmp / "before"
        tree.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        variants.append((f"before ({args.before})", tree))
    variants.append(("this tree", None))
    project = build_sqlite(args.out / f"pg-bench-{args.units}", args.units)
    server = start_server(fsync=True)
    if server is None:
        raise SystemExit("no PostgreSQL binaries (initdb) on this machine")
    rows = []
    try:
        for i, (name, tree) in enumerate(variants):
            db = server.url(server.new_database(f"copy{i}"), user="lead")
            init_database(db)
            rows.append((name, "sqlite -> postgresql",
                         copy(["--from", "sqlite", "--to", db], project, server, tree)))
            back = tmp / f"back{i}"
            back.mkdir()
            rows.append((name, "postgresql -> sqlite",
                         copy(["--from", db, "--to", "sqlite", "--project", str(back)],
                              project, server, tree)))
            shutil.rmtree(back, ignore_errors=True)
            server.sql(f'DROP DATABASE "copy{i}" WITH (FORCE)')
    finally:
        server.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\ndb copy of {args.units:,} units x 3 annotators x 20 labels\n")
    print(f"{'variant':<22} {'direction':<22} {'wall':>8} {'client CPU':>11} "
          f"{'server CPU':>11}  load")
    for name, direction, (dt, cpu, scpu, load) in rows:
        print(f"{name:<22} {direction:<22} {dt:7.1f}s {cpu:10.1f}s {scpu:10.1f}s  {load}")


if __name__ == "__main__":
    main()
