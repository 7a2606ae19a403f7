"""The PostgreSQL store against the SQLite store, in the same run, on this machine.

Starts its own PostgreSQL server (tests/pg_server.py: initdb in a temporary directory,
fsync ON so a commit costs what it costs in production; the SQLite store runs with
synchronous=FULL), then measures:

1. an action to its stored event (`Journal.apply` of a label toggle: the store's part
   of a keypress, durable on return), SQLite and PostgreSQL interleaved in five
   blocks each, after 50 to warm up, median and p99;
2. 8 annotators x N actions at once, each a process with its own role: lost events,
   errors, median and p99 commit time;
3. `annotator agreement` (CLI, end to end) on a project of U units x 3 annotators x 20
   labels, from the SQLite store and from the PostgreSQL store, same report;
4. `annotator db copy --from sqlite --to postgresql://...` of that project (CLI), and
   back; CPU seconds as client + server (the server's: its processes in /proc).

    .venv/bin/python bench/bench_postgres.py                   # full size
    .venv/bin/python bench/bench_postgres.py --units 100000 --actions 200
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_agreement import make_columns  # noqa: E402
from bench_agreement_store import PARAS, new_project  # noqa: E402
from pg_server import start_server  # noqa: E402

from annotator.corpus import Document  # noqa: E402
from annotator.store import SQLiteStore  # noqa: E402
from annotator.store.postgres import PostgresStore, add_annotator, init_database  # noqa: E402


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


# -- 1. action to stored event ------------------------------------------------------------
def apply_times(journal, n: int) -> list[float]:
    out = []
    for i in range(n):
        action = {"type": "toggle_label", "layer": "devices", "label": "sovereignty"}
        t0 = time.perf_counter()
        journal.apply(f"d{i % 20}", 1 + i % 5, action)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def small_docs() -> list[Document]:
    return [Document(f"d{i}", None, [f"paragraph {k} of {i}" for k in range(5)])
            for i in range(20)]


# -- 2. concurrency -----------------------------------------------------------------------
def worker(url: str, name: str, actions: int, queue) -> None:
    try:
        store = PostgresStore(url)
        j = store.journal(name)
        j.claim()
        times = []
        for i in range(actions):
            t0 = time.perf_counter()
            j.apply(f"d{i % 20}", 1 + i % 5, {"type": "set_note", "note": f"{name} {i}"})
            times.append((time.perf_counter() - t0) * 1000)
        store.close()
        queue.put((name, times, None))
    except Exception as exc:  # reported in the table
        queue.put((name, [], repr(exc)))


# -- 3./4. a big project ------------------------------------------------------------------
def build_sqlite(project: Path, n_units: int) -> Path:
    """A SQLite project of n_units x 3 annotators x 20 labels (bench_agreement's
    synthetic ratings), each annotator's done units with one event and a state that
    holds its labels: the rows `Journal.apply` would leave (one event per unit)."""
    marker = project / ".complete"
    if marker.exists():
        return project
    annotators, done, multi, schema = make_columns(n_units, 3, 20, 0.10, seed=0)
    labels = [lab.id for lab in schema.layers[0].labels]
    store = new_project(project, n_units, labels)
    sha = {(d.id, u.index): u.sha for d in store.iter_documents() for u in store.units(d.id)} \
        if n_units <= 20000 else None
    for a in annotators:
        per_unit: dict[int, list[str]] = {}
        done_set = set(done[a].tolist())
        for lab in labels:
            for u in multi["devices"][lab][a].tolist():
                if u in done_set:
                    per_unit.setdefault(u, []).append(lab)
        j = store.journal(a)
        conn = j.conn
        conn.execute("BEGIN")
        events, units, label_rows = [], [], []
        codes = {lab: j._label_code("devices", lab) for lab in labels}
        for seq, u in enumerate(sorted(done_set), start=1):
            doc, unit, key = f"doc-{u // PARAS:06d}", u % PARAS + 1, u // PARAS + 1
            state = json.dumps({"status": "done", "labels": {"devices": per_unit.get(u, [])},
                                "spans": [], "relations": [], "note": None, "flag": False})
            events.append((seq, "2026-11-23T00:00:00.000000Z", doc, unit, "mark_done",
                           '{"type": "mark_done"}', None, state, 1.0, 0, None))
            units.append((doc, unit, key, "done", state,
                          sha[(doc, unit)] if sha else "", "2026-11-23T00:00:00.000000Z",
                          1.0, 0))
            label_rows.extend((codes[lab], key, unit) for lab in per_unit.get(u, []))
        conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)", events)
        conn.executemany("INSERT INTO units VALUES (?,?,?,?,?,?,?,?,?)", units)
        conn.executemany("INSERT INTO labels VALUES (?,?,?)", label_rows)
        conn.execute("COMMIT")
    store.close()
    marker.touch()
    return project


CPU: list[float] = []  # client CPU seconds (user + sys) of the last cli() call


def server_cpu(server) -> float:
    """CPU seconds of the PostgreSQL server so far: the postmaster, its live children
    and the ones it has reaped (backends, parallel workers, checkpointer...)."""
    return postmaster_cpu(int((server.data / "postmaster.pid").read_text().split()[0]))


def postmaster_cpu(pid: int) -> float:
    """`server_cpu` of the postmaster `pid`."""
    tick = os.sysconf("SC_CLK_TCK")
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                              text=True).stdout.split()
    total = 0
    for p in [str(pid), *children]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile: counted by the postmaster's cutime
            continue
        # utime stime (cutime cstime: the postmaster's reaped children)
        total += sum(int(x) for x in fields[11:15 if p == str(pid) else 13])
    return total / tick


def cli(*args: str, cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "annotator", *args], cwd=cwd,
                       capture_output=True, text=True)
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[:] = [after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime]
    if r.returncode != 0:
        raise SystemExit(f"annotator {' '.join(args)} failed:\n{r.stderr}")
    return dt, r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=1_000_000)
    ap.add_argument("--actions", type=int, default=1000, help="per annotator (default 1000)")
    ap.add_argument("--presses", type=int, default=500)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = ap.parse_args()
    server = start_server(fsync=True)
    if server is None:
        raise SystemExit("no PostgreSQL binaries (initdb) on this machine")
    rows: list[tuple[str, str, str, str]] = []
    try:
        tmp = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        # 1. action to stored event, same run
        sq = SQLiteStore(tmp / "sqlite" / ".annotator")
        sq.import_documents(small_docs())
        server.new_database("b1")
        url = server.url("b1", user="lead")
        init_database(url)
        PostgresStore(url).import_documents(small_docs())
        add_annotator(url, "alice")
        pg = PostgresStore(server.url("b1", user="alice"))
        # interleaved in blocks, so both stores meet the same disk (its stalls last
        # seconds on a shared machine); the first 50 of each warm up
        sq_j, pg_j = sq.journal("alice"), pg.journal("alice")
        apply_times(sq_j, 50)
        apply_times(pg_j, 50)
        sq_times, pg_times = [], []
        block = max(1, args.presses // 5)
        while len(pg_times) < args.presses:
            sq_times += apply_times(sq_j, block)
            pg_times += apply_times(pg_j, block)
        sq.close()
        pg.close()
        ratio = statistics.median(pg_times) / statistics.median(sq_times)
        rows.append(("action to stored event, SQLite (median / p99)",
                     f"{statistics.median(sq_times):.2f} / {pct(sq_times, .99):.2f} ms",
                     "baseline", ""))
        rows.append(("action to stored event, PostgreSQL local socket (median / p99)",
                     f"{statistics.median(pg_times):.2f} / {pct(pg_times, .99):.2f} ms",
                     "<= 2x", f"{ratio:.2f}x {'PASS' if ratio <= 2 else 'FAIL'}"))
        tcp = PostgresStore(server.url("b1", user="alice", tcp=True))
        tcp_times = apply_times(tcp.journal("alice"), args.presses)
        tcp.close()
        rows.append(("action to stored event, PostgreSQL over TCP 127.0.0.1",
                     f"{statistics.median(tcp_times):.2f} / {pct(tcp_times, .99):.2f} ms",
                     "(info)",
                     f"{statistics.median(tcp_times) / statistics.median(sq_times):.2f}x"))

        # 2. 8 annotators at once
        names = [f"ann{i}" for i in range(8)]
        for n in names:
            add_annotator(url, n)
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        procs = [ctx.Process(target=worker, args=(server.url("b1", user=n), n, args.actions,
                                                  queue)) for n in names]
        t0 = time.perf_counter()
        for p in procs:
            p.start()
        results = [queue.get(timeout=900) for _ in procs]
        for p in procs:
            p.join()
        wall = time.perf_counter() - t0
        errors = [r[2] for r in results if r[2]]
        times = [t for r in results for t in r[1]]
        lead = PostgresStore(url)
        stored = lead.conn.execute("SELECT count(*) FROM events WHERE kind = 'set_note'"
                                   ).fetchone()[0]
        lead.close()
        lost = len(names) * args.actions - stored
        rows.append((f"8 annotators x {args.actions:,} actions at once: lost / errors",
                     f"{lost} / {len(errors)}", "0 / 0",
                     "PASS" if lost == 0 and not errors else f"FAIL {errors[:1]}"))
        rows.append(("  commit time, median / p99 (all 8 together)",
                     f"{statistics.median(times):.2f} / {pct(times, .99):.2f} ms" if times
                     else "-", "(info)", f"{stored / wall:,.0f} actions/s overall"))

        # 3./4. the big project
        t0 = time.perf_counter()
        project = build_sqlite(args.out / f"pg-bench-{args.units}", args.units)
        print(f"SQLite project ready in {time.perf_counter() - t0:.1f} s (cached)",
              file=sys.stderr)
        server.new_database("big")
        big = server.url("big", user="lead")
        init_database(big)
        s0 = server_cpu(server)
        dt_copy, _ = cli("db", "copy", "--from", "sqlite", "--to", big, cwd=project)
        rows.append((f"db copy sqlite -> postgresql, {args.units:,} units x 3 (CLI)",
                     f"{dt_copy:.1f} s ({CPU[0]:.1f} + {server_cpu(server) - s0:.1f} s CPU)",
                     "< 60 s", f"{'PASS' if dt_copy < 60 else 'FAIL'} (load at the end "
                     f"{os.getloadavg()[0]:.2f})"))
        schema = str(project / "bench.yaml")
        dt_sq, r_sq = cli("agreement", "--store", "sqlite", "--schema", schema, "--json",
                          "--bootstrap", "0", cwd=project)
        cpu_sq = CPU[0]
        dt_pg, r_pg = cli("agreement", "--store", big, "--schema", schema, "--json",
                          "--bootstrap", "0", cwd=project)
        cpu_pg = CPU[0]
        same = json.loads(r_sq.stdout) == json.loads(r_pg.stdout)
        rows.append((f"agreement {args.units:,} x 3 x 20, SQLite store (CLI)",
                     f"{dt_sq:.2f} s ({cpu_sq:.2f} s CPU)", "baseline", ""))
        rows.append((f"agreement {args.units:,} x 3 x 20, PostgreSQL store (CLI)",
                     f"{dt_pg:.2f} s ({cpu_pg:.2f} s CPU)", "< 5 s",
                     f"{'PASS' if dt_pg < 5 else 'FAIL'}; same report: {same}"))
        back = tmp / "back"
        back.mkdir()
        s0 = server_cpu(server)
        dt_back, _ = cli("db", "copy", "--from", big, "--to", "sqlite", "--project",
                         str(back), cwd=project)
        rows.append((f"db copy postgresql -> sqlite, {args.units:,} units x 3 (CLI)",
                     f"{dt_back:.1f} s ({CPU[0]:.1f} + {server_cpu(server) - s0:.1f} s CPU)",
                     "(info)", ""))
        shutil.rmtree(tmp, ignore_errors=True)
    finally:
        server.destroy()
    print(f"\nload average {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\n{'row':<72} {'value':>22}  {'target':<9} result")
    print("-" * 120)
    for name, value, target, result in rows:
        print(f"{name:<72} {value:>22}  {target:<9} {result}")


if __name__ == "__main__":
    main()
