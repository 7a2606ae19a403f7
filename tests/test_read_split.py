"""An export read over two processes (annotator.read_split) gives what one pass gives:
the same problems, located on the same lines with the same messages, and the same
agreement report, bootstrap included; and it falls back to one process when it must."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_agreement_refuses import BROKEN, SCHEMA, records, write

from annotator import read_split
from annotator.agreement import run_agreement
from annotator.child import usable_cores
from annotator.validate import read_export

BLOCKS = 12  # of 4 records each (the BROKEN cases break one block)


def project(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "schemas").mkdir()
    schema = tmp_path / "schemas" / "study.yaml"
    schema.write_text(SCHEMA, encoding="utf-8")
    return tmp_path, hashlib.sha256(schema.read_bytes()).hexdigest()


def blocks(sha: str, n: int = BLOCKS) -> list[list[dict]]:
    """n blocks of the 4 records of test_agreement_refuses, each block a document of
    its own, annotators varied a little so that the report depends on every block."""
    out = []
    for b in range(n):
        recs = records(sha)
        for k, r in enumerate(recs):
            r["doc_id"] = f"d{b}"
            if (b + k) % 3 == 0:
                r["annotations"][1]["labels"]["devices"] = ["aggression"]
            if b % 4 == 1:
                r["annotations"].append(dict(copy.deepcopy(r["annotations"][0]),
                                             annotator="carol"))
            if b % 5 == 2 and k == 1:
                r["annotations"][0]["status"] = "skipped"
        out.append(recs)
    return out


def both(monkeypatch, fn):
    """fn() read in one process, then in two (forced): (one, two)."""
    monkeypatch.setenv(read_split.WORKERS_ENV, "1")
    one = fn()
    monkeypatch.setenv(read_split.WORKERS_ENV, "2")
    two = fn()
    return one, two


def test_the_report_is_the_same_read_in_two_processes(tmp_path, monkeypatch):
    root, sha = project(tmp_path)
    path = write(root / "e.jsonl", [r for b in blocks(sha) for r in b])
    one, two = both(monkeypatch, lambda: read_export(path, project_dir=root))
    assert (one.processes, two.processes) == (1, 2)
    assert one.problems == two.problems == [] and one.records == two.records == 4 * BLOCKS
    one, two = both(monkeypatch, lambda: run_agreement(path, project_dir=root, bootstrap=200,
                                                       seed=3))
    assert one["units"] == 4 * BLOCKS and set(one["annotators"]) == {"alice", "bob", "carol"}
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    # the bootstrap intervals are there, and depend on the seed (so the equality above
    # compares resamples, not empty sections)
    other = run_agreement(path, project_dir=root, bootstrap=200, seed=4)
    assert json.dumps(other, sort_keys=True) != json.dumps(two, sort_keys=True)


def test_merged_names_across_the_cut(tmp_path, monkeypatch):
    root, sha = project(tmp_path)
    recs = [r for b in blocks(sha) for r in b]
    for r in recs[len(recs) * 3 // 4:]:
        r["annotations"][1]["annotator"] = "BOB"
    path = write(root / "e.jsonl", recs)
    one, two = both(monkeypatch, lambda: run_agreement(path, project_dir=root, bootstrap=50,
                                                       merge_names=True))
    assert one["merged_names"] == {"BOB": "bob"}
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)


@pytest.mark.parametrize("name,breaks,line,needle", BROKEN, ids=[b[0] for b in BROKEN])
def test_the_same_problems_read_in_two_processes(tmp_path, monkeypatch, name, breaks, line,
                                                 needle):
    """Each broken case in a block after the cut, and again in the first block: every
    message and line as one pass finds them."""
    root, sha = project(tmp_path)
    parts = blocks(sha)
    for b in (0, BLOCKS - 2):
        breaks(parts[b])
    path = write(root / "e.jsonl", [r for b in parts for r in b])
    one, two = both(monkeypatch, lambda: read_export(path, project_dir=root))
    needle = needle.replace("'d1'", "'d0'")  # the first block's document
    assert one.problems and any(needle in p.message for p in one.problems)
    assert [str(p) for p in one.problems] == [str(p) for p in two.problems]
    assert two.processes == 2


def test_problems_across_the_cut_and_odd_lines(tmp_path, monkeypatch):
    """A unit repeated across the cut, a name differing by case only across it, a blank
    line, invalid JSON and invalid UTF-8 (its byte offset) in the child's part."""
    root, sha = project(tmp_path)
    recs = [r for b in blocks(sha) for r in b]
    late = recs[-5]
    late["doc_id"], late["paragraph"] = "d0", 1
    recs[-3]["annotations"][0]["annotator"] = "Alice"
    lines = [json.dumps(r).encode() + b"\n" for r in recs]
    lines.insert(-2, b"\n")
    lines.insert(-2, b'{"doc_id": \n')
    lines.insert(-1, b'{"doc_id": "\xff"}\n')
    path = root / "e.jsonl"
    path.write_bytes(b"".join(lines))
    one, two = both(monkeypatch, lambda: read_export(path, project_dir=root))
    text = [str(p) for p in one.problems]
    assert any("already exported at line 1" in t for t in text), text
    assert any("'Alice' and 'alice' (line 1)" in t for t in text), text
    assert any("invalid UTF-8 at byte offset" in t for t in text), text
    assert text == [str(p) for p in two.problems] and two.processes == 2


def test_a_child_checking_against_another_schema_is_read_again(tmp_path, monkeypatch):
    """The file's first half names schema v1, its second half v2 (both found): one pass
    checks every record against v1, which the child could not know; its part is read
    again here."""
    root, sha = project(tmp_path)
    v2 = root / "schemas" / "study2.yaml"
    v2.write_text(SCHEMA.replace("version: 1", "version: 2").replace(
        "{id: aggression, name: A, description: d}", "{id: menace, name: M, description: d}"),
        encoding="utf-8")
    sha2 = hashlib.sha256(v2.read_bytes()).hexdigest()
    recs = [r for b in blocks(sha) for r in b]
    for r in recs[len(recs) // 2:]:  # all the child's part
        r["schema"] = {"id": "study", "version": 2, "sha256": sha2}
    path = write(root / "e.jsonl", recs)
    one, two = both(monkeypatch, lambda: read_export(path, project_dir=root))
    assert two.processes == 1
    assert [str(p) for p in one.problems] == [str(p) for p in two.problems]
    assert any("an export holds the records of one schema" in str(p) for p in one.problems)


def test_a_child_that_fails_or_cannot_start(tmp_path, monkeypatch):
    root, sha = project(tmp_path)
    path = write(root / "e.jsonl", [r for b in blocks(sha) for r in b])
    want = run_agreement(path, project_dir=root, bootstrap=50)
    monkeypatch.setenv(read_split.WORKERS_ENV, "2")
    monkeypatch.setattr(read_split, "_result", lambda proc: (proc.kill(), proc.wait(),
                                                             None)[2])
    assert read_export(path, project_dir=root).processes == 1
    assert run_agreement(path, project_dir=root, bootstrap=50) == want

    def no_start(*a, **k):
        raise OSError("no fork")

    monkeypatch.undo()
    monkeypatch.setenv(read_split.WORKERS_ENV, "2")
    import annotator.child

    monkeypatch.setattr(annotator.child, "spawn", no_start)
    assert read_export(path, project_dir=root).processes == 1
    assert run_agreement(path, project_dir=root, bootstrap=50) == want


def test_small_files_and_the_opt_out_stay_in_one_process(tmp_path, monkeypatch):
    root, sha = project(tmp_path)
    path = write(root / "e.jsonl", [r for b in blocks(sha) for r in b])
    monkeypatch.delenv(read_split.WORKERS_ENV, raising=False)
    assert path.stat().st_size < read_split.MIN_BYTES
    assert read_split.cut(path, path.stat().st_size) is None
    busy = read_split._busy
    monkeypatch.setattr(os, "getloadavg", lambda: (usable_cores() + 1.0, 0.0, 0.0))
    assert busy()
    monkeypatch.setattr(os, "getloadavg", lambda: (usable_cores() + 0.5, 0.0, 0.0))
    assert not busy()
    monkeypatch.setattr(read_split, "MIN_BYTES", 1)
    monkeypatch.setattr(read_split, "_busy", lambda: False)
    if usable_cores() >= 2:
        assert read_split.cut(path, path.stat().st_size) is not None
    # every core busy already: one process (the split would only add CPU)
    monkeypatch.setattr(read_split, "_busy", lambda: True)
    assert read_split.cut(path, path.stat().st_size) is None
    monkeypatch.setenv(read_split.WORKERS_ENV, "1")
    assert read_split.cut(path, path.stat().st_size) is None
    assert read_export(path, project_dir=root).processes == 1
    one_line = write(root / "one.jsonl", blocks(sha, 1)[0][:1])
    monkeypatch.setenv(read_split.WORKERS_ENV, "2")
    assert read_export(one_line, project_dir=root).processes == 1


def _cli(root: Path, workers: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, read_split.WORKERS_ENV: workers}
    return subprocess.run([sys.executable, "-m", "annotator", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("schema", [False, True], ids=["named", "--schema"])
def test_the_cli_reports_are_the_same_both_ways(tmp_path, schema):
    """`annotator agreement FILE` starts the child before its imports (start_early)."""
    root, sha = project(tmp_path)
    write(root / "e.jsonl", [r for b in blocks(sha) for r in b])
    extra = ["--schema", "schemas/study.yaml"] if schema else []
    one = _cli(root, "1", "agreement", "e.jsonl", "--json", "--bootstrap", "100", *extra)
    two = _cli(root, "2", "agreement", "e.jsonl", "--json", "--bootstrap", "100", *extra)
    assert one.returncode == two.returncode == 0, one.stderr + two.stderr
    assert one.stdout == two.stdout and json.loads(one.stdout)["units"] == 4 * BLOCKS


def test_the_early_child_is_adopted_only_by_its_read(tmp_path, monkeypatch):
    root, sha = project(tmp_path)
    path = write(root / "e.jsonl", [r for b in blocks(sha) for r in b])
    monkeypatch.setenv(read_split.WORKERS_ENV, "2")
    read_split.start_early(path, None, root, coded=True)
    assert len(read_split._early) == 1
    proc = read_split._early[0][2]
    # a validate (no value codes) of the same file does not take agreement's child
    assert read_export(path, project_dir=root).processes == 2
    assert read_split._early == [] and proc.wait(timeout=30) is not None
    read_split.start_early(path, None, root, coded=True)
    rep = run_agreement(path, project_dir=root, bootstrap=0)
    assert read_split._early == [] and rep["units"] == 4 * BLOCKS
    read_split.start_early(path, None, root, coded=True)
    proc = read_split._early[0][2]
    read_split.stop_early()
    assert read_split._early == [] and proc.poll() is not None
