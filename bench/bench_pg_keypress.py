"""A keypress's store write on PostgreSQL, this tree against an earlier commit and the
SQLite store, interleaved in one run (issue 14: PostgreSQL <= 2x SQLite).

One PostgreSQL server (tests/pg_server.py, fsync on; SQLite with synchronous=FULL).
Each round runs, one after the other: the SQLite store, the earlier commit (a `git
archive` of it on PYTHONPATH, its own `db init` into a fresh database), this tree (the
same). Each variant is a process of its own applying `--presses` label toggles over 100
units (`Journal.apply`, durable on return, as bench_postgres.py's keypress row).
Prints per variant and round: median wall ms (and over SQLite's median of the same
round), p99, client CPU ms per action
(process_time), server CPU ms per action (its processes in /proc, around the timed actions only),
WAL bytes per action, the share of HOT updates of `states`, and the load.

    .venv/bin/python bench/bench_pg_keypress.py --before 22a10e1 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(target: str, presses: int, pid: int) -> None:
    """Measure in this process (the tree on PYTHONPATH is the variant's)."""
    import annotator.store.postgres  # noqa: F401  (the variant's, before bench_postgres
    from annotator.store import SQLiteStore  # puts this tree first on sys.path)

    sys.path.insert(0, str(ROOT / "bench"))
    from bench_postgres import apply_times, pct, small_docs
    from bench_postgres import postmaster_cpu as server_cpu

    print(f"measuring {annotator.store.postgres.__file__}", file=sys.stderr)

    if target == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="bench-kp-"))
        store = SQLiteStore(tmp / ".annotator")
        store.import_documents(small_docs())
        journal = store.journal("alice")
    else:
        from annotator.store.postgres import PostgresStore, add_annotator, init_database

        lead_url, alice_url = target.split(" ")
        init_database(lead_url)
        lead = PostgresStore(lead_url)
        lead.import_documents(small_docs())
        lead.close()
        add_annotator(lead_url, "alice")
        store = PostgresStore(alice_url)
        journal = store.journal("alice")
    apply_times(journal, 50)  # warm: prepared statements, plan caches, the first labels
    wal0 = hot0 = None
    if target != "sqlite":
        import psycopg

        probe = psycopg.connect(lead_url, autocommit=True)
        wal0, hot0 = wal_and_hot(probe)
    s0 = server_cpu(pid) if pid else 0.0
    c0 = time.process_time()
    times = apply_times(journal, presses)
    cpu = (time.process_time() - c0) / presses * 1000
    server = (server_cpu(pid) - s0) / presses * 1000 if pid else None
    store.close()
    wal = hot = None
    if wal0 is not None:
        time.sleep(1.2)  # a backend reports its table counts at most once a second
        wal1, hot1 = wal_and_hot(probe)
        probe.close()
        wal = (wal1 - wal0) / presses
        upd = hot1[0] - hot0[0]
        hot = (hot1[1] - hot0[1]) / upd if upd else 0.0
    print(json.dumps({"median": statistics.median(times), "p99": pct(times, .99),
                      "cpu": cpu, "server": server, "wal": wal, "hot": hot}))


def wal_and_hot(conn) -> tuple[int, tuple[int, int]]:
    """The WAL position in bytes, and (updates, HOT updates) of `states` so far."""
    (lsn,) = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
    upd = conn.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                       "WHERE schemaname = 'annotator' AND relname = 'states'").fetchone()
    return int(lsn), (int(upd[0]), int(upd[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="the earlier commit (e.g. 22a10e1)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--presses", type=int, default=500)
    ap.add_argument("--child")
    ap.add_argument("--server-pid", type=int, default=0)
    ap.add_argument("--fsync", choices=("on", "off"), default="on",
                    help="off: the disk out of it, to see the CPU (default on)")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.presses, args.server_pid)
        return
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT / "bench"))
    from pg_server import start_server

    old = Path(tempfile.mkdtemp(prefix="bench-kp-tree-"))
    subprocess.run(f"git -C {ROOT} archive {args.before} annotator | tar -x -C {old}",
                   shell=True, check=True)
    server = start_server(fsync=args.fsync == "on")
    if server is None:
        raise SystemExit("no PostgreSQL binaries (initdb) on this machine")
    rows: list[str] = []
    try:
        for r in range(args.rounds):
            for name, tree in (("sqlite", None), (args.before, old), ("this tree", ROOT)):
                env = dict(os.environ)
                target = "sqlite"
                if tree is not None:
                    env["PYTHONPATH"] = str(tree)
                    db = server.new_database(f"kp{r}_{'old' if tree == old else 'new'}")
                    target = f"{server.url(db, user='lead')} {server.url(db, user='alice')}"
                load0 = os.getloadavg()[0]
                pid = int((server.data / "postmaster.pid").read_text().split()[0])
                out = subprocess.run(
                    [sys.executable, __file__, "--before", args.before, "--child", target,
                     "--presses", str(args.presses), "--server-pid", str(pid)],
                    env=env, capture_output=True, text=True)
                if out.returncode != 0 or str(tree or "") not in out.stderr:
                    raise SystemExit(out.stderr)
                m = json.loads(out.stdout.strip().splitlines()[-1])
                if tree is None:
                    sqlite_median = m["median"]
                ratio = f"{m['median'] / sqlite_median:5.2f}x" if tree is not None else "     -"
                server_part = f"{m['server']:.3f}" if tree is not None else "-"
                wal_part = (f"{m['wal']:7.0f} {m['hot']:5.2f}" if m.get("wal") is not None
                            else f"{'-':>7} {'-':>5}")
                rows.append(f"{r + 1:>5} {name:<10} {m['median']:8.3f} {ratio} {m['p99']:8.3f} "
                            f"{m['cpu']:9.3f} {server_part:>10} {wal_part} "
                            f"{load0:5.2f} -> {os.getloadavg()[0]:.2f}")
                print(rows[-1], file=sys.stderr)
    finally:
        server.destroy()
        shutil.rmtree(old, ignore_errors=True)
    print(f"\n{'round':>5} {'variant':<10} {'median':>8} {'/SQLite':>6} {'p99':>8} "
          f"{'client':>9} {'server':>10} {'WAL B':>7} {'HOT':>5} load   (ms; the median "
          "over SQLite's of the same round; CPU ms per action; WAL bytes per action; share "
          "of the updates of `states` that were HOT)")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
