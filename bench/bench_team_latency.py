"""An annotator's commit latency while another member exports in a loop.

    .venv/bin/python bench/bench_team_latency.py

Why: on a team server the owner of a journal commits on every keypress while curators
(or everyone, once unblinded) read it. The journal mode decides whether a reader can
make the owner wait: in rollback-journal mode a reader's SHARED lock, held for a whole
export (one read transaction: a consistent snapshot), blocks the owner's commit until
it ends; in WAL mode it does not. Sessions run in WAL (`SQLiteJournal.claim`), and the
file goes back to rollback mode when the session ends, so readers then need no
`-wal`/`-shm` of their own (they could not create one in the owner's directory).

Method: a corpus of 2,000 documents x 10 paragraphs; the owner marks 3,000 units done
first (so an export has work), then applies up to 150 more actions (at most 45 s of them), each timed from the call
to its return (after COMMIT, synchronous=FULL), in three set-ups measured in the same
run: no reader (baseline); a reader process running `annotator export` back to back,
the owner's session in WAL (what the tool does); the same with the owner's journal
kept in rollback mode (what the issue suggested).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotator.importer import import_paths  # noqa: E402
from annotator.project import Project  # noqa: E402

DOCS, PARAS, PRE, N = 2000, 10, 3000, 150
BUDGET = 45.0  # seconds of actions per set-up at most: a blocked owner is slow indeed


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def make_project(base: Path) -> Path:
    proj = base / "p"
    (proj / "c").mkdir(parents=True)
    with open(proj / "c" / "docs.jsonl", "w", encoding="utf-8") as fh:
        for d in range(DOCS):
            text = "\n\n".join(f"Paragraph {p} of document {d}, some words." for p in range(PARAS))
            fh.write(json.dumps({"id": f"d{d}", "title": f"Doc {d}", "text": text}) + "\n")
    p = Project(proj)
    import_paths(p.store, [proj / "c"], proj)
    p.close()
    return proj


def measure(proj: Path, reader: bool, wal: bool) -> tuple[list[float], int]:
    p = Project(proj)
    j = p.store.journal("owner", p.load_schema())
    j.claim()
    if not wal:
        j.conn.execute("PRAGMA journal_mode=DELETE")
    units = [(d.id, u) for d in p.store.iter_documents()
             for u in range(d.first_unit, d.first_unit + d.n_units)]
    if j.done_count() == 0:
        for doc_id, u in units[:PRE]:
            j.apply(doc_id, u, {"type": "mark_done"})
    procs = []
    runs = 0
    if reader:
        # The real export, reading the owner's journal as another user does (read-only:
        # the bench runs as one user, so the reader is told the journal is not its own).
        loop = ("import sys\n"
                "from annotator.store.sqlite import SQLiteJournal\n"
                "SQLiteJournal._ours = lambda self: False\n"
                "from annotator import cli\n"
                "while True:\n"
                f"    cli.main(['export', '--out', '/dev/null', '--project', {str(proj)!r}])\n"
                "    print('run', flush=True)\n")
        procs.append(subprocess.Popen([sys.executable, "-c", loop], stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True, cwd=ROOT))
        assert procs[0].stdout.readline()  # one full run first: the loop is warm
    lat = []
    flag = {"type": "toggle_label", "layer": "devices", "label": "sovereignty"}
    start = time.perf_counter()
    for i in range(N):
        if time.perf_counter() - start > BUDGET:
            break
        doc_id, u = units[PRE + i % 500]
        t0 = time.perf_counter()
        j.apply(doc_id, u, flag)
        lat.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.01)  # a fast typist, not a flood
    for proc in procs:
        proc.kill()
        out, _ = proc.communicate()
        runs = out.count("run") + 1
    p.close()
    return lat, runs


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proj = make_project(Path(tmp))
        rows = []
        for label, reader, wal in (("no reader (baseline)", False, True),
                                   ("export loop, session in WAL (the tool)", True, True),
                                   ("export loop, rollback-journal mode", True, False)):
            lat, runs = measure(proj, reader, wal)
            rows.append((label, len(lat), statistics.median(lat), pct(lat, 0.99), max(lat),
                         runs))
    print(f"{DOCS:,} documents x {PARAS} paragraphs; owner: up to {N} actions after {PRE:,} done")
    print("| set-up | actions | commit median | p99 | max | exports run |")
    print("|---|---|---|---|---|---|")
    for label, n, med, p99, mx, runs in rows:
        print(f"| {label} | {n} | {med:.2f} ms | {p99:.2f} ms | {mx:.1f} ms | "
              f"{runs if runs else '-'} |")


if __name__ == "__main__":
    main()
