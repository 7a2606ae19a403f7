"""Many annotators at once: 8 processes write through the core as fast as they can
while `annotator export` (two loops) and `annotator agreement --json` (one loop), each
run a new CLI process, read the store, with a loop of exports through the core
(`iter_records`) in the test process taking many more snapshots meanwhile.

Each writer runs a deterministic script of actions (toggle_label, mark_done,
add_span, undo, redo) as its own annotator. The test replays every script through
`annotator.actions.apply_action` with its own model of undo/redo, so it knows each
annotator's done annotations after every prefix of their script, without asking the
store. Then:
- every action is stored (8 x N events, none lost) and each journal replays soundly;
- no writer or reader meets "database is locked" (or any traceback);
- every export taken during the writes validates and is consistent: for each
  annotator, their exported annotations are exactly their done state after some
  prefix of their script (an export that read part of the store before an action
  and part after would match no prefix), and later exports never go back;
- the export after the writers finish equals the final states, and the agreement
  from the store equals the agreement from that export.

`bench/bench_concurrency.py` runs the same workload (`run_workload`) at 8 x 1,000
and prints its figures.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from util import REPO

from annotator.actions import apply_action
from annotator.schema import LabelSchema

# One writer: opens the project through the core as an annotation session does, says
# it is ready, waits for the start signal, then applies its script as fast as it can,
# timing each action (from the call to its return: after COMMIT).
WRITER = r"""
import json, os, sys, time
from pathlib import Path
from annotator.project import Project

project, name, script, ready, go, out = sys.argv[1:7]
proj = Project(project)
schema = proj.load_schema()
journal = proj.store.journal(name, schema)
journal.claim()
ops = json.loads(Path(script).read_text(encoding="utf-8"))
Path(ready).write_text("ready")
while not os.path.exists(go):
    time.sleep(0.002)
latencies = []
start = time.time()
for n, op in enumerate(ops, start=1):
    t = time.perf_counter()
    if op["op"] == "undo":
        change = journal.undo()
    elif op["op"] == "redo":
        change = journal.redo()
    else:
        change = journal.apply(op["doc"], op["unit"], op["action"])
    latencies.append(time.perf_counter() - t)
    if change is None:
        sys.exit(f"{name}: action {n} ({op['op']}) found nothing to do")
end = time.time()
proj.close()
Path(out).write_text(json.dumps({"start": start, "end": end, "latencies": latencies}))
"""


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "annotator", *args]


def make_project(root: Path) -> Path:
    """A project with the demo corpus imported through the CLI."""
    project = root / "proj"
    project.mkdir(parents=True)
    shutil.copytree(REPO / "corpora" / "demo", project / "demo")
    proc = subprocess.run(cli("import", "demo", "--project", str(project)), cwd=project,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return project


def corpus_units(project: Path) -> tuple[LabelSchema, list[tuple[str, int, str]]]:
    from annotator.project import Project

    proj = Project(project)
    try:
        schema = proj.load_schema()
        units = [(d.id, u.index, u.text) for d in proj.store.iter_documents()
                 for u in proj.store.units(d.id)]
    finally:
        proj.close()
    return schema, units


# -- the scripts and what they must leave -------------------------------------------

def canon(labels: dict, spans: list, relations: list, note: str | None, flag: bool) -> str:
    """One annotation as exported, in a comparable form: empty layers ([] or None)
    are the same as absent ones."""
    labs = {}
    for layer, value in labels.items():
        values = value if isinstance(value, list) else [value] if value else []
        if values:
            labs[layer] = values
    return json.dumps([labs, spans, relations, note, bool(flag)], sort_keys=True,
                      ensure_ascii=False)


def _done_items(states: dict[tuple[str, int], dict | None]) -> frozenset:
    return frozenset((doc, unit, canon(s.get("labels", {}), s.get("spans", []),
                                       s.get("relations", []), s.get("note"),
                                       s.get("flag", False)))
                     for (doc, unit), s in states.items() if s and s.get("status") == "done")


def action_script(seed: int, n: int, schema: LabelSchema,
                  units: list[tuple[str, int, str]]) -> tuple[list[dict], list[frozenset]]:
    """`n` actions for one annotator, and their done annotations after each prefix
    (index k: after the first k actions), computed apart from the store: the actions
    through `apply_action`, undo/redo as the stacks an annotator sees. Undo and redo
    come only when there is something to undo or redo, so each action stores one
    event."""
    rng = random.Random(seed)
    devices = [lab.id for lab in schema.layer("devices").labels]
    stances = [lab.id for lab in schema.layer("stance").labels]
    # Each annotator works on a part of the corpus at a time, as people do: repeated
    # actions on the same units make undo/redo and label toggles interact.
    pool = rng.sample(units, k=min(len(units), 20))
    states: dict[tuple[str, int], dict | None] = {}
    undo: list[tuple[tuple[str, int], dict | None, dict]] = []
    redo: list[tuple[tuple[str, int], dict | None, dict]] = []
    ops: list[dict] = []
    prefixes = [frozenset()]
    for _ in range(n):
        r = rng.random()
        if r < 0.17 and undo:
            key, before, after = undo.pop()
            redo.append((key, before, after))
            states[key] = before
            ops.append({"op": "undo"})
        elif r < 0.25 and redo:
            key, before, after = redo.pop()
            undo.append((key, before, after))
            states[key] = after
            ops.append({"op": "redo"})
        else:
            doc, unit, text = rng.choice(pool)
            r = rng.random()
            if r < 0.45:
                action = {"type": "toggle_label", "layer": "devices", "label": rng.choice(devices)}
            elif r < 0.6:
                action = {"type": "toggle_label", "layer": "stance", "label": rng.choice(stances)}
            elif r < 0.8:
                action = {"type": "mark_done"}
            else:
                start = rng.randrange(0, len(text) - 1)
                end = rng.randrange(start + 1, min(len(text), start + 80) + 1)
                action = {"type": "add_span", "layer": "quotes",
                          "label": rng.choice(["quote", "source"]), "start": start, "end": end}
            key = (doc, unit)
            before = states.get(key)
            after = apply_action(before, action, schema, text)
            states[key] = after
            undo.append((key, before, after))
            redo.clear()
            ops.append({"op": "apply", "doc": doc, "unit": unit, "action": action})
        prefixes.append(_done_items(states))
    return ops, prefixes


def exported_items(records: Iterable[dict]) -> dict[str, frozenset]:
    """Each annotator's annotations in export records, comparable with the prefixes."""
    out: dict[str, set] = {}
    for rec in records:
        for a in rec["annotations"]:
            assert a["status"] == "done"
            out.setdefault(a["annotator"], set()).add(
                (rec["doc_id"], rec["paragraph"],
                 canon(a["labels"], a["spans"], a["relations"], a["note"], a["flag"])))
    return {name: frozenset(items) for name, items in out.items()}


def read_export(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def prefix_index(prefixes: list[frozenset]) -> dict[frozenset, list[int]]:
    index: dict[frozenset, list[int]] = {}
    for k, items in enumerate(prefixes):
        index.setdefault(items, []).append(k)
    return index


# -- running it ----------------------------------------------------------------------

@dataclass
class Run:
    """One `annotator export` or `annotator agreement --json` run (a CLI process)."""

    kind: str  # "export" or "agreement"
    loop: int
    started: float
    ended: float
    returncode: int
    stdout: str
    stderr: str
    path: Path | None = None

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class Workload:
    project: Path
    names: list[str]
    actions: int
    prefixes: dict[str, list[frozenset]]
    writers: dict[str, tuple[int, str]] = field(default_factory=dict)  # exit code, output
    timings: dict[str, dict] = field(default_factory=dict)  # start, end, latencies
    runs: list[Run] = field(default_factory=list)
    # exports through the core (`iter_records`) in a loop of this process:
    # (started, ended, each annotator's exported annotations)
    core_exports: list[tuple[float, float, dict[str, frozenset]]] = field(
        default_factory=list)
    errors: list[str] = field(default_factory=list)  # of the in-process reader
    go: float = 0.0
    writers_done: float = 0.0

    @property
    def wall(self) -> float:
        """From the start signal to the last writer's exit."""
        return self.writers_done - self.go


def _cli_loop(kind: str, loop: int, project: Path, out_dir: Path, stop: threading.Event,
              runs: list[Run]) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        path = None
        if kind == "export":
            path = out_dir / f"export-{loop}-{n:04d}.jsonl"
            args = cli("export", "--out", str(path), "--project", str(project))
        else:
            args = cli("agreement", "--json", "--bootstrap", "200", "--project", str(project))
        t0 = time.time()
        proc = subprocess.run(args, cwd=project, capture_output=True, text=True, timeout=300)
        runs.append(Run(kind, loop, t0, time.time(), proc.returncode, proc.stdout,
                        proc.stderr, path))


def _core_loop(project: Path, stop: threading.Event, w: Workload) -> None:
    """Exports through the core, back to back: many more snapshots taken during the
    writes than CLI processes (each a new interpreter) can take."""
    from annotator.export import iter_records
    from annotator.project import Project

    try:
        proj = Project(project)
        try:
            schema = proj.load_schema()
            while not stop.is_set():
                t0 = time.time()
                items = exported_items(iter_records(proj.store, schema, with_agreement=False))
                w.core_exports.append((t0, time.time(), items))
        finally:
            proj.close()
    except Exception as exc:  # reported by the test, not lost in a thread
        import traceback

        w.errors.append("".join(traceback.format_exception(exc)))


def run_workload(root: Path, writers: int = 8, actions: int = 200, seed: int = 1,
                 export_loops: int = 2, core_loop: bool = True) -> Workload:
    """`writers` annotator processes x `actions` actions each, as fast as they can,
    while `export_loops` loops of `annotator export` and one of `annotator agreement
    --json` (the real CLI, each run a new process), and a loop of exports through the
    core in this process, read the store until the writers are done."""
    project = make_project(root)
    schema, units = corpus_units(project)
    work = root / "work"
    (work / "ready").mkdir(parents=True)
    exports = root / "exports"
    exports.mkdir()
    (work / "writer.py").write_text(WRITER, encoding="utf-8")
    names = [f"annotator{i}" for i in range(writers)]
    w = Workload(project, names, actions, {})
    procs: dict[str, subprocess.Popen] = {}
    logs = {}
    for i, name in enumerate(names):
        ops, w.prefixes[name] = action_script(seed * 1000 + i, actions, schema, units)
        script = work / f"{name}.json"
        script.write_text(json.dumps(ops), encoding="utf-8")
        logs[name] = open(work / f"{name}.log", "w+", encoding="utf-8")  # noqa: SIM115
        procs[name] = subprocess.Popen(
            [sys.executable, str(work / "writer.py"), str(project), name, str(script),
             str(work / "ready" / name), str(work / "go"), str(work / f"{name}.out")],
            cwd=project, stdout=logs[name], stderr=subprocess.STDOUT)
    stop = threading.Event()
    threads = [threading.Thread(target=_cli_loop, args=(kind, i, project, exports, stop,
                                                        w.runs))
               for i, kind in enumerate(["agreement"] + ["export"] * export_loops)]
    if core_loop:
        threads.append(threading.Thread(target=_core_loop, args=(project, stop, w)))
    try:
        deadline = time.time() + 120
        while len(list((work / "ready").iterdir())) < writers:
            failed = [n for n, p in procs.items() if p.poll() is not None]
            assert not failed, f"writer(s) {failed} ended before starting: " + "".join(
                (work / f"{n}.log").read_text() for n in failed)
            assert time.time() < deadline, "writers did not get ready"
            time.sleep(0.01)
        for t in threads:
            t.start()
        w.go = time.time()
        (work / "go").write_text("go")
        for p in procs.values():
            p.wait(timeout=600)
        w.writers_done = time.time()
    finally:
        stop.set()
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        for t in threads:
            if t.ident is not None:  # started
                t.join()
    for name, p in procs.items():
        logs[name].seek(0)
        w.writers[name] = (p.returncode, logs[name].read())
        logs[name].close()
        out = work / f"{name}.out"
        if out.exists():
            w.timings[name] = json.loads(out.read_text())
    w.runs.sort(key=lambda r: r.started)
    return w


def final_runs(w: Workload) -> tuple[Run, Run]:
    """An export and an agreement run after every writer finished."""
    path = w.project.parent / "exports" / "final.jsonl"
    runs = []
    for kind, args in (("export", cli("export", "--out", str(path), "--project",
                                      str(w.project))),
                       ("agreement", cli("agreement", "--json", "--bootstrap", "200",
                                         "--project", str(w.project)))):
        t0 = time.time()
        proc = subprocess.run(args, cwd=w.project, capture_output=True, text=True, timeout=300)
        runs.append(Run(kind, -1, t0, time.time(), proc.returncode, proc.stdout, proc.stderr,
                        path if kind == "export" else None))
    return runs[0], runs[1]


def stored_events(project: Path) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Events in each journal, and what `verify()` (a replay) finds wrong with it."""
    from annotator.store.sqlite import SQLiteStore

    store = SQLiteStore(project / ".annotator")
    try:
        counts, problems = {}, {}
        for j in store.reading_journals():
            counts[j.annotator] = j.conn.execute("SELECT count(*) FROM events").fetchone()[0]
            problems[j.annotator] = j.verify()
    finally:
        store.close()
    return counts, problems


def consistency(w: Workload, exports: list[tuple[str, dict[str, frozenset]]]) -> list[dict]:
    """For each export of one sequence (each taken after the previous one ended), the
    prefix of each annotator's script it shows. Fails when an annotator's exported
    annotations are their state after no prefix of their actions, or after an earlier
    one than a previous export showed."""
    index = {name: prefix_index(p) for name, p in w.prefixes.items()}
    floor = dict.fromkeys(w.names, 0)
    out = []
    for label, found in exports:
        assert set(found) <= set(w.names), (label, sorted(found))
        seen = {}
        for name in w.names:
            items = found.get(name, frozenset())
            ks = [k for k in index[name].get(items, []) if k >= floor[name]]
            assert ks, (f"{label}: {name}'s exported annotations are not their state after "
                        f"any prefix of their actions (from action {floor[name]} on)")
            seen[name] = floor[name] = ks[0]
        out.append(seen)
    return out


def _mid_run(w: Workload, seen: list[dict]) -> int:
    """How many exports showed some annotator part-way through their actions."""
    return sum(any(0 < k < w.actions for k in s.values()) for s in seen)


def locked(text: str) -> bool:
    return "locked" in text.lower()


def check(w: Workload, tmp: Path) -> dict:
    """Every assertion of the test; returns figures for the report."""
    assert not w.errors, w.errors[0]
    for name, (rc, output) in w.writers.items():
        assert rc == 0, f"writer {name} exited {rc}:\n{output[-3000:]}"
        assert not locked(output) and "Traceback" not in output, output[-3000:]
    for r in w.runs:
        assert r.returncode == 0, f"{r.kind} exited {r.returncode}:\n{r.stderr[-3000:]}"
        for text in (r.stdout, r.stderr):
            assert not locked(text) and "Traceback" not in text, text[-3000:]
    exports = [r for r in w.runs if r.kind == "export"]
    agreements = [r for r in w.runs if r.kind == "agreement"]
    assert exports and agreements
    for r in agreements:
        assert set(json.loads(r.stdout)["annotators"]) <= set(w.names)

    counts, problems = stored_events(w.project)
    assert sorted(counts) == sorted(w.names)
    assert sum(counts.values()) == len(w.names) * w.actions, counts
    assert all(c == w.actions for c in counts.values()), counts
    bad = {name: p[:3] for name, p in problems.items() if p}
    assert not bad, bad

    proc = subprocess.run(cli("validate", *(str(r.path) for r in exports), "--project",
                              str(w.project)), cwd=tmp, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    mid = 0
    for loop in sorted({r.loop for r in exports}):
        seen = consistency(w, [(r.path.name, exported_items(read_export(r.path)))
                               for r in exports if r.loop == loop])
        mid += _mid_run(w, seen)
    core_mid = _mid_run(w, consistency(w, [(f"core export {i}", items) for i, (_, _, items)
                                           in enumerate(w.core_exports, start=1)]))

    final_export, final_agreement = final_runs(w)
    assert final_export.returncode == 0 and final_agreement.returncode == 0, (
        final_export.stderr + final_agreement.stderr)
    found = exported_items(read_export(final_export.path))
    for name in w.names:
        assert found.get(name, frozenset()) == w.prefixes[name][-1], name
    from_export = subprocess.run(cli("agreement", str(final_export.path), "--json",
                                     "--bootstrap", "200", "--project", str(w.project)),
                                 cwd=tmp, capture_output=True, text=True, timeout=300)
    assert from_export.returncode == 0, from_export.stderr
    assert json.loads(from_export.stdout) == json.loads(final_agreement.stdout)
    return {"events": sum(counts.values()), "cli_exports": len(exports),
            "cli_exports_mid_run": mid, "agreements": len(agreements),
            "core_exports": len(w.core_exports), "core_exports_mid_run": core_mid}


def test_a_checkpoint_in_flight_is_not_damage(tmp_path: Path):
    """A checkpoint in another process writes page 1 (with the new size) before the
    pages that extend the file: opening the store then must not call the file damaged
    (readers met "cut short" errors under concurrent writes). Without a WAL, the same
    shortfall is damage."""
    import sqlite3

    from annotator.store.sqlite import check_database_file

    db = tmp_path / "j.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (x)")
    conn.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,)] * 50)
    conn.commit()
    conn.close()
    data = bytearray(db.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    pages = int.from_bytes(data[28:32], "big")
    data[28:32] = (pages + 2).to_bytes(4, "big")  # as page 1 says mid-checkpoint
    db.write_bytes(bytes(data))
    assert "cut short" in check_database_file(db)
    wal = tmp_path / "j.db-wal"
    wal.write_bytes(bytes(32 + 2 * (24 + page_size)))  # two frames still to copy
    assert check_database_file(db) is None
    wal.write_bytes(bytes(32 + 1 * (24 + page_size)))  # fewer than the file lacks
    assert "cut short" in check_database_file(db)


def test_eight_annotators_with_export_and_agreement(tmp_path: Path):
    w = run_workload(tmp_path, writers=8, actions=200)
    figures = check(w, tmp_path)
    # the readers did read while the store was changing
    assert figures["core_exports_mid_run"] >= 1, figures


@pytest.mark.stress
def test_eight_annotators_thousand_actions_each(tmp_path: Path):
    w = run_workload(tmp_path, writers=8, actions=1000)
    figures = check(w, tmp_path)
    assert figures["cli_exports_mid_run"] >= 1 and figures["core_exports_mid_run"] >= 1
    lat = sorted(x for t in w.timings.values() for x in t["latencies"])
    print(f"\n8 x 1,000: {figures}, writes {w.wall:.1f} s, commit latency median "
          f"{lat[len(lat) // 2] * 1000:.2f} ms, max {lat[-1] * 1000:.1f} ms")
