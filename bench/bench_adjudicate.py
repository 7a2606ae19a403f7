"""The automatic merge into gold (`annotator adjudicate --auto`), at scale.

Builds (once, cached under bench/out/) a store of 1,000,000 units (100,000 documents x
10 paragraphs) with 3 annotators' journals over the default schema's paragraph layers
(devices: multi, 9 labels; stance: single, 4 labels), written with bulk SQL into the
journals' derived tables (the rows `Journal.apply` would leave). About 60% of units are
unanimous, ~30% more have a 2-of-3 majority. Then times `auto_merge` in process for
`unanimous` and `majority` (each on a fresh copy of the gold journal: none), and, as the
baseline in the same run, the per-unit reference path (each annotator's state read from
the journal, `merge.merged`, one `Journal.apply` per unit) on a 2,000-unit sample,
scaled to the whole store.

    .venv/bin/python bench/bench_adjudicate.py            # full size
    .venv/bin/python bench/bench_adjudicate.py --units 100000
    .venv/bin/python bench/bench_adjudicate.py --units 100000 --store postgresql

With `--store postgresql` the same store is copied (`db copy`, not timed) into a
PostgreSQL server of the bench's own (tests/pg_server.py, fsync on), once per row, and
the merge runs there; the baseline in the same run is the same merge with the bulk
write switched off (one event per action through `apply_many`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_agreement_store import PARAS, new_project  # noqa: E402

from annotator.adjudication.auto import auto_merge  # noqa: E402
from annotator.adjudication.merge import merged, versions_of  # noqa: E402
from annotator.schema import load_schema  # noqa: E402
from annotator.store import SQLiteStore  # noqa: E402
from annotator.store.base import GOLD  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = load_schema(ROOT / "schemas" / "framing-devices.yaml")
NAMES = ["ann1", "ann2", "ann3"]


def build(root: Path, n_units: int) -> Path:
    project = root / f"adjudicate-{n_units}"
    marker = project / ".complete"
    if marker.exists():
        return project
    store = new_project(project, n_units)
    n_docs = n_units // PARAS
    devices = [lab.id for lab in SCHEMA.layer("devices").labels]
    stances = [lab.id for lab in SCHEMA.layer("stance").labels]
    rng = random.Random(0)
    per: dict[str, list] = {a: [] for a in NAMES}
    for _ in range(n_docs * PARAS):
        dev = sorted(rng.sample(devices, rng.randint(0, 2)))
        st = rng.choice([*stances, None])
        r = rng.random()
        odd = -1 if r < 0.6 else rng.randrange(3) if r < 0.9 else -2
        for i, a in enumerate(NAMES):
            if odd == -2 or odd == i:
                mine = (sorted(rng.sample(devices, 1)), rng.choice(stances))
            else:
                mine = (dev, st)
            per[a].append(mine)
    for a in NAMES:
        j = store.journal(a, SCHEMA)
        conn = j.conn
        codes = {(lay, lab): j._label_code(lay, lab)
                 for lay, labs in (("devices", devices), ("stance", stances)) for lab in labs}
        conn.execute("BEGIN")
        units, labels = [], []
        for u, (dev, st) in enumerate(per[a]):
            doc, unit = u // PARAS + 1, u % PARAS + 1
            state = {"status": "done", "labels": {"devices": dev, "stance": st}, "spans": [],
                     "relations": [], "note": None, "flag": False}
            units.append((f"doc-{doc - 1:06d}", unit, doc, "done", json.dumps(state), "",
                          "2026-11-23T00:00:00Z", 1.0, 0))
            labels += [(codes[("devices", d)], doc, unit) for d in dev]
            if st:
                labels.append((codes[("stance", st)], doc, unit))
        conn.executemany("INSERT INTO units VALUES (?,?,?,?,?,?,?,?,?)", units)
        conn.executemany("INSERT INTO labels VALUES (?,?,?)", labels)
        conn.execute("COMMIT")
    store.close()
    marker.touch()
    return project


def _fresh_gold(project: Path) -> None:
    journals = project / ".annotator" / "journals"
    shutil.rmtree(journals / GOLD, ignore_errors=True)  # its own directory
    for p in journals.glob(f"{GOLD}.*"):  # the older layout: journals/gold.db
        p.unlink()


def timed_merge(project: Path, strategy: str) -> tuple[float, object, int]:
    _fresh_gold(project)
    store = SQLiteStore(project / ".annotator")
    t0 = time.perf_counter()
    result = auto_merge(store, SCHEMA, strategy, curator="bench")
    dt = time.perf_counter() - t0
    events = store.journal(GOLD).conn.execute("SELECT count(*) FROM events").fetchone()[0]
    store.close()
    return dt, result, events


def reference(project: Path, n_units: int, sample: int = 2000) -> float:
    """The per-unit path on `sample` units, scaled to the store: seconds."""
    _fresh_gold(project)
    store = SQLiteStore(project / ".annotator")
    journals = store.reading_journals()
    gold = store.journal(GOLD, SCHEMA)
    t0 = time.perf_counter()
    for u in range(sample):
        doc_id, unit = f"doc-{u // PARAS:06d}", u % PARAS + 1
        versions = versions_of({j.annotator: j.state(doc_id, unit) for j in journals})
        m = merged(versions, SCHEMA, "unanimous")
        if m is not None:
            gold.apply(doc_id, unit, {"type": "set_gold", **m[0], "decided_by": list(versions),
                                      "auto": "unanimous"})
    dt = time.perf_counter() - t0
    store.close()
    _fresh_gold(project)
    return dt * n_units / sample


def postgres_rows(project: Path, n_units: int) -> list[tuple]:
    """The merge on PostgreSQL: each row on a fresh copy of the project (events are
    append-only: a gold cannot be emptied for the next row)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from pg_server import start_server

    from annotator.store.copy import copy_store
    from annotator.store.postgres import PostgresStore, init_database

    server = start_server(fsync=True)
    if server is None:
        raise SystemExit("no PostgreSQL binaries (initdb) on this machine")
    rows = []
    try:
        for n, (strategy, bulk) in enumerate((("unanimous", True), ("majority", True),
                                              ("unanimous", False))):
            server.new_database(f"adj{n}")
            url = server.url(f"adj{n}", user="lead")
            init_database(url)
            src, dst = SQLiteStore(project / ".annotator"), PostgresStore(url)
            t0 = time.perf_counter()
            copy_store(src, dst)
            print(f"copied into PostgreSQL in {time.perf_counter() - t0:.1f} s (not timed)",
                  file=sys.stderr)
            src.close()
            if not bulk:
                dst.journal(GOLD).apply_fresh = None  # the one-event-per-action path
            t0 = time.perf_counter()
            r = auto_merge(dst, SCHEMA, strategy, curator="bench")
            dt = time.perf_counter() - t0
            events = dst.conn.execute("SELECT count(*) FROM annotator.events WHERE "
                                      "annotator = %s", (GOLD,)).fetchone()[0]
            dst.close()
            name = (f"PostgreSQL: auto-merge {n_units:,} units x 3, --auto {strategy}"
                    if bulk else "PostgreSQL baseline: the same, one event per action")
            rows.append((name, dt, "< 30 s" if bulk else "", (dt < 30) if bulk else None,
                         f"merged={r.merged:,} left={r.disagreeing:,} events={events:,}"))
        rows[0] = (*rows[0][:4], rows[0][4] + f"; {rows[2][1] / rows[0][1]:.1f}x faster "
                   "than the baseline")
    finally:
        server.destroy()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    ap.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    args = ap.parse_args()
    t0 = time.perf_counter()
    project = build(args.out, args.units)
    print(f"store ready in {time.perf_counter() - t0:.1f} s (cached after the first run)")
    if args.store == "postgresql":
        _print(postgres_rows(project, args.units))
        return
    rows = []
    for strategy in ("unanimous", "majority"):
        dt, r, events = timed_merge(project, strategy)
        rows.append((f"auto-merge {args.units:,} units x 3, --auto {strategy}", dt, "< 30 s",
                     dt < 30, f"merged={r.merged:,} left={r.disagreeing:,} events={events:,}"))
    ref = reference(project, args.units)
    rows.append(("baseline: per-unit path (2,000-unit sample, scaled)", ref, "", None,
                 f"speed-up of the unanimous merge: {ref / rows[0][1]:.0f}x"))
    _print(rows)


def _print(rows: list[tuple]) -> None:
    print(f"\nload average {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\n{'row':<66} {'seconds':>8}  {'target':<7} result  note")
    print("-" * 128)
    for name, sec, target, ok, note in rows:
        res = "" if ok is None else "PASS" if ok else "FAIL"
        print(f"{name:<66} {sec:>8.2f}  {target:<7} {res:<6}  {note}")


if __name__ == "__main__":
    main()
