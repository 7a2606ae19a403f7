"""`annotator assign`: the algorithm's properties (hypothesis), the store, and the CLI."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from util import run_cli

from annotator.errors import InputError, UsageError
from annotator.team.assign import DocumentScope, check_names, plan_assignment

NAMES = [f"ann{i:02d}" for i in range(12)]


@st.composite
def setups(draw):
    n_ann = draw(st.integers(1, 8))
    names = draw(st.permutations(NAMES))[:n_ann]
    k = draw(st.integers(1, n_ann))
    docs = draw(st.integers(0, 80))
    calib = draw(st.integers(0, min(docs, 5)))
    seed = draw(st.integers(0, 2**32))
    return names, k, docs, calib, seed


def _check(rows, names, k, keys, calib_total):
    per_doc: dict[int, list[tuple[str, bool]]] = {}
    for d, who, cal in rows:
        per_doc.setdefault(d, []).append((who, cal))
    assert set(per_doc) == set(keys)  # every document assigned
    calib_docs = {d for d, v in per_doc.items() if any(c for _, c in v)}
    assert len(calib_docs) == calib_total
    for d, members in per_doc.items():
        who = [w for w, _ in members]
        assert len(who) == len(set(who))  # nobody twice on one document
        if d in calib_docs:
            assert sorted(who) == sorted(names) and all(c for _, c in members)
        else:
            assert len(who) == k  # exactly K
    loads = Counter(w for d, w, c in rows if not c)
    values = [loads.get(n, 0) for n in names]
    assert max(values) - min(values) <= 1  # balanced to within one document
    return per_doc


@settings(max_examples=200, deadline=None)
@given(setups())
def test_exact_k_balance_and_calibration(setup):
    names, k, docs, calib, seed = setup
    keys = list(range(1, docs + 1))
    plan = plan_assignment(keys, [], names, k, calib, seed)
    _check(plan.rows, names, k, keys, calib)
    assert plan.documents == docs - calib


@settings(max_examples=100, deadline=None)
@given(setups())
def test_deterministic_for_a_seed_and_order_of_names(setup):
    names, k, docs, calib, seed = setup
    keys = list(range(1, docs + 1))
    a = plan_assignment(keys, [], names, k, calib, seed).rows
    b = plan_assignment(keys, [], list(reversed(names)), k, calib, seed).rows
    assert a == b


def test_another_seed_gives_another_assignment():
    keys = list(range(1, 200))
    a = plan_assignment(keys, [], NAMES[:6], 2, 3, seed=1).rows
    b = plan_assignment(keys, [], NAMES[:6], 2, 3, seed=2).rows
    assert a != b


@settings(max_examples=150, deadline=None)
@given(setups(), st.integers(0, 60), st.integers(0, 2**32))
def test_reimport_assigns_only_new_documents_and_never_moves_old_ones(setup, more, seed2):
    names, k, docs, calib, seed = setup
    first = plan_assignment(list(range(1, docs + 1)), [], names, k, calib, seed).rows
    keys = list(range(1, docs + more + 1))
    second = plan_assignment(keys, first, names, k, calib, seed2).rows
    # the new rows are all on new documents; the old ones are kept as they were
    assert all(d > docs for d, _, _ in second)
    # (the calibration was complete: every new document is a regular one)
    assert {d for d, _, _ in second} == set(range(docs + 1, docs + more + 1))
    _check(first + second, names, k, keys, calib)


def test_pairs_mix_rather_than_fixed_neighbours():
    # K=2 of 5: a round-robin would leave some pairs sharing nothing
    rows = plan_assignment(list(range(1, 301)), [], NAMES[:5], 2, 0, seed=0).rows
    by_doc: dict[int, list[str]] = {}
    for d, w, _ in rows:
        by_doc.setdefault(d, []).append(w)
    pairs = Counter(tuple(sorted(v)) for v in by_doc.values())
    assert len(pairs) == 10 and min(pairs.values()) >= 10


def test_calibration_grows_to_n_and_reaches_annotators_added_later():
    first = plan_assignment(list(range(1, 21)), [], ["a", "b"], 1, 2, seed=0).rows
    calib = {d for d, _, c in first if c}
    assert len(calib) == 2
    # a third annotator joins with new documents: they get the calibration documents too
    second = plan_assignment(list(range(1, 41)), first, ["a", "b", "c"], 1, 3, seed=0)
    got = {(d, w) for d, w, c in second.rows if c}
    assert {(d, "c") for d in calib} <= got
    assert second.calibration_total == 3 and len(second.calibration) == 1


@pytest.mark.parametrize("names, k, calib, error", [
    (["a", "b"], 3, 0, UsageError),  # K larger than the annotator count
    (["a", "b"], 0, 0, UsageError),
    (["a", "b"], 1, -1, UsageError),
    (["a", "b"], 1, 11, InputError),  # more calibration documents than documents
])
def test_bad_requests_are_errors(names, k, calib, error):
    with pytest.raises(error):
        plan_assignment(list(range(1, 11)), [], names, k, calib, 0)


def test_unbalanceable_document_list_is_an_error():
    first = plan_assignment(list(range(1, 41)), [], ["a", "b"], 1, 0, 0).rows  # 20 each
    with pytest.raises(InputError, match="cannot balance"):
        plan_assignment(list(range(1, 45)), first, ["a", "b", "c"], 1, 0, 0)  # c: 4 of 20


def test_names_are_checked():
    assert check_names(["b", "a"], None) == ["a", "b"]
    with pytest.raises(UsageError, match="unknown annotator 'zed'"):
        check_names(["a", "zed"], ["a", "b"])
    with pytest.raises(UsageError, match="twice"):
        check_names(["a", "a"], None)
    with pytest.raises(UsageError, match="invalid annotator name"):
        check_names(["../x"], None)


def test_document_scope():
    scope = DocumentScope([7, 2, 5], total=10, annotator="a")
    assert scope.count == 3 and scope.restricted
    assert [scope.position(k) for k in (2, 5, 7, 3)] == [1, 2, 3, None]
    assert scope.key_at(2) == 5 and scope.key_at(4) is None
    assert scope.step(2, 1) == 5 and scope.step(7, 1) is None and scope.step(2, -1) is None
    assert scope.step(3, 1) == 5 and scope.step(3, -1) == 2  # from outside it
    everything = DocumentScope(None, total=4)
    assert everything.count == 4 and everything.step(4, 1) is None and 3 in everything


# ---------------------------------------------------------------- through the CLI

def _corpus(project: Path, n: int, start: int = 1) -> None:
    with open(project / f"docs{start}.jsonl", "w") as fh:
        for i in range(start, start + n):
            fh.write(json.dumps({"id": f"d{i:03d}", "title": f"Title {i}",
                                 "paragraphs": [f"Para {i}.1", f"Para {i}.2"]}) + "\n")


def _rows(project: Path) -> list[tuple]:
    conn = sqlite3.connect(project / ".annotator" / "corpus.db")
    try:
        return conn.execute("SELECT d.id, a.annotator, a.calibration FROM assignments a "
                            "JOIN documents d ON d.key = a.doc_key ORDER BY d.key, "
                            "a.annotator").fetchall()
    finally:
        conn.close()


def test_cli_assigns_shows_and_reassigns_only_new_documents(project: Path):
    _corpus(project, 30)
    assert run_cli("import", "docs1.jsonl", cwd=project).returncode == 0
    r = run_cli("assign", "--per-document", "2", "--annotators", "alice,bob,carol",
                "--calibration", "3", "--seed", "7", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "assigned 27 document(s) to 2 of 3" in r.stderr
    first = _rows(project)
    assert len(first) == 27 * 2 + 3 * 3
    # the same run in a fresh copy gives the same rows: deterministic for a seed
    other = project.parent / "copy"
    other.mkdir()
    _corpus(other, 30)
    run_cli("import", "docs1.jsonl", cwd=other)
    run_cli("assign", "--per-document", "2", "--annotators", "carol,bob,alice",
            "--calibration", "3", "--seed", "7", cwd=other)
    assert _rows(other) == first
    # import more, run again: only the new ones are assigned, the old rows stay
    _corpus(project, 9, start=31)
    run_cli("import", "docs31.jsonl", cwd=project)
    r = run_cli("assign", "--per-document", "2", "--annotators", "alice,bob,carol",
                "--calibration", "3", "--seed", "99", "--show", cwd=project)
    assert r.returncode == 0, r.stderr
    rows = _rows(project)
    assert set(first) <= set(rows)
    new = set(rows) - set(first)
    assert {d for d, _, _ in new} == {f"d{i:03d}" for i in range(31, 40)}
    loads = Counter(w for _, w, c in rows if not c)
    assert max(loads.values()) - min(loads.values()) <= 1
    # --show: the summary and the matrix
    assert "39 of 39 document(s) assigned" in r.stdout
    assert "documents shared by each pair" in r.stdout
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("d001 "))
    marks = dict(zip(("alice", "bob", "carol"), line.split()[1:], strict=True))
    for who in ("alice", "bob", "carol"):
        cal = [c for d, a, c in rows if d == "d001" and a == who]
        assert marks[who] == ("." if not cal else "C" if cal[0] else "x")
    # nothing new: says so, adds nothing
    r = run_cli("assign", "--per-document", "2", "--annotators", "alice,bob,carol",
                cwd=project)
    assert r.returncode == 0 and "nothing to assign" in r.stderr
    assert _rows(project) == rows


@pytest.mark.parametrize("args, code, message", [
    (["--per-document", "4", "--annotators", "a,b,c"], 2, "more than the 3 annotator(s)"),
    (["--per-document", "2"], 2, "--annotators a,b,c is needed"),
    (["--annotators", "a,b"], 2, "needs --per-document"),
    (["--per-document", "1", "--annotators", "a,a"], 2, "listed twice"),
    (["--per-document", "1", "--annotators", "a,b", "--calibration", "9"], 1,
     "cannot add 9 calibration document(s)"),
])
def test_cli_errors(project: Path, args, code, message):
    _corpus(project, 5)
    run_cli("import", "docs1.jsonl", cwd=project)
    r = run_cli("assign", *args, cwd=project)
    assert r.returncode == code, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert _rows(project) == []  # nothing half-written


def test_cli_unbalanceable_writes_nothing(project: Path):
    _corpus(project, 20)
    run_cli("import", "docs1.jsonl", cwd=project)
    assert run_cli("assign", "--per-document", "1", "--annotators", "a,b",
                   cwd=project).returncode == 0
    before = _rows(project)
    _corpus(project, 2, start=21)
    run_cli("import", "docs21.jsonl", cwd=project)
    r = run_cli("assign", "--per-document", "1", "--annotators", "a,b,c", cwd=project)
    assert r.returncode == 1 and "cannot balance" in r.stderr
    assert _rows(project) == before


def test_cli_without_store_and_show_without_assignments(project: Path):
    r = run_cli("assign", "--show", cwd=project)
    assert r.returncode == 1 and "no documents imported" in r.stderr
    _corpus(project, 2)
    run_cli("import", "docs1.jsonl", cwd=project)
    r = run_cli("assign", "--show", cwd=project)
    assert r.returncode == 0 and "no assignments yet" in r.stdout


def test_status_shows_assigned_and_done_per_annotator_and_document(project: Path):
    from annotator.store.sqlite import SQLiteStore

    _corpus(project, 6)  # 3 units each (title + 2)
    run_cli("import", "docs1.jsonl", cwd=project)
    assert run_cli("assign", "--per-document", "1", "--annotators", "alice,bob",
                   cwd=project).returncode == 0
    store = SQLiteStore(project / ".annotator")
    mine = store.assigned_documents("alice")
    first = store.document_at(mine[0] - 1).id
    j = store.journal("alice")
    for unit in range(3):  # alice finishes her first document
        j.apply(first, unit, {"type": "mark_done"})
    j.apply(store.document_at(mine[1] - 1).id, 0, {"type": "mark_done"})
    store.close()
    r = run_cli("status", cwd=project)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("assigned to"))
    # documents, finished, units, done
    assert lines[at + 1].split() == ["alice", "3", "1", "9", "4"]
    assert lines[at + 2].split() == ["bob", "3", "0", "9", "0"]  # no journal: nothing done
    row = next(ln for ln in r.stdout.splitlines() if ln.startswith(first + " "))
    assert row.split()[1:] == ["3", "3", "-"]  # alice 3 done; not bob's


def test_team_section_is_read_as_a_mapping_or_an_object():
    from types import SimpleNamespace

    from annotator.team.assign import team_lead, team_names

    assert team_names(SimpleNamespace()) is None  # no team: a single-user project
    as_dict = SimpleNamespace(team={"lead": "lee", "annotators": {"bob": "u2", "amy": "u1"}})
    assert team_names(as_dict) == ["amy", "bob"] and team_lead(as_dict) == "lee"
    as_obj = SimpleNamespace(team=SimpleNamespace(lead="lee", annotators={"zed": "u3"}))
    assert team_names(as_obj) == ["zed"] and team_lead(as_obj) == "lee"


def test_assign_project_is_the_commands_work(tmp_path: Path):
    """`annotator assign` is one core call (the CLI only parses and prints): the lead's
    rule, the team's names by default, an unknown name refused."""
    from annotator.corpus import Document
    from annotator.errors import InputError, UsageError
    from annotator.project import Project
    from annotator.team.assign import assign_project, describe_plan
    from annotator.team.roles import current_login

    me = current_login()
    (tmp_path / "annotator.yaml").write_text(
        f"team:\n  lead: {me}\n  annotators: {{amy: {me}, bob: {me}, cat: {me}}}\n",
        encoding="utf-8")
    project = Project(tmp_path)
    project.store.import_documents([Document(f"d{i}", None, ["Text."]) for i in range(6)])
    with pytest.raises(InputError, match="only the project's lead"):
        assign_project(project, 2, None, me + "-not")
    with pytest.raises(UsageError, match="unknown annotator 'zed': the team in annotator"):
        assign_project(project, 2, ["amy", "zed"], me)
    plan = assign_project(project, 2, None, me, seed=3)
    assert plan.annotators == ["amy", "bob", "cat"] and len(plan.rows) == 12
    assert describe_plan(plan, 6).startswith("assigned 6 document(s) to 2 of 3 annotator(s)")
    assert describe_plan(assign_project(project, 2, None, me), 6) == (
        "nothing to assign: all 6 document(s) are assigned already")
    project.close()
