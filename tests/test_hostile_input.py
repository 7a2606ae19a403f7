"""Bad and hostile input found in review: each gets a clear message, exit 1 or 2, no
traceback, and nothing reaches the terminal as an escape sequence."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from util import REPO, run_cli

from annotator.schema import load_schema
from annotator.store import SQLiteStore


@pytest.mark.parametrize("line,expect", [
    ('{"id":"d","text":"x","meta":{"n":NaN}}', "NaN is not valid JSON"),
    ('{"id":"d","text":"x","meta":{"n":1e400}}', "out of range"),
    ('{"id":"d","text":"x","meta":{"n":' + "9" * 5000 + "}}", "digits"),
    ("[" * 100_000, "invalid JSON"),
])
def test_hostile_json_lines(project: Path, line: str, expect: str):
    (project / "a.jsonl").write_text(line + "\n", encoding="utf-8")
    r = run_cli("import", "a.jsonl", cwd=project)
    assert r.returncode == 1 and "a.jsonl:1:" in r.stderr and expect in r.stderr
    assert "Traceback" not in r.stderr


def test_lone_surrogate_and_empty_documents(project: Path):
    (project / "a.jsonl").write_text(
        '{"id":"s","text":"x\\ud800y"}\n{"id":"e","paragraphs":[]}\n', encoding="utf-8")
    r = run_cli("import", "a.jsonl", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "'e' has no text" in r.stderr
    store = SQLiteStore(project / ".annotator")
    assert store.unit("s", 1).text == "x\ufffdy" and store.document("e") is None


def test_blank_lines_with_tabs_separate_paragraphs(project: Path):
    (project / "a.txt").write_text("Title\n\nOne.\n\t\nTwo.\n \f \nThree.\n", encoding="utf-8")
    assert run_cli("import", "a.txt", cwd=project).returncode == 0
    store = SQLiteStore(project / ".annotator")
    assert [u.text for u in store.units("a")] == ["Title", "One.", "Two.", "Three."]


def test_escape_in_file_name_is_made_visible(project: Path):
    (project / "esc\x1b[31mname.txt").write_text("T\n\nB\n", encoding="utf-8")
    r = run_cli("import", ".", cwd=project)
    assert r.returncode == 0, r.stderr
    [doc] = SQLiteStore(project / ".annotator").iter_documents()
    assert "\x1b" not in doc.id and "\u241b" in doc.id


def test_schema_strings_are_cleaned(tmp_path: Path):
    text = (REPO / "schemas" / "framing-devices.yaml").read_text(encoding="utf-8")
    text = text.replace("name: Devices", 'name: "Dev [@click=app.quit]L \\e]0;pwned\\a"', 1)
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    layer = load_schema(path).layer("devices")
    assert "\x1b" not in layer.name and "\x07" not in layer.name
    assert layer.name.startswith("Dev [@click=app.quit]L \u241b]0;pwned")


def test_export_keeps_symlinks_and_reports_os_errors(project: Path):
    SQLiteStore(project / ".annotator").close()
    target = project / "real.jsonl"
    target.write_text("old\n")
    os.symlink(target, project / "link.jsonl")
    r = run_cli("export", "--out", "link.jsonl", cwd=project)
    assert r.returncode == 0, r.stderr
    assert (project / "link.jsonl").is_symlink() and target.read_text() == ""
    (project / "afile").write_text("x")
    r = run_cli("export", "--out", "afile/x.jsonl", cwd=project)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "afile" in r.stderr


@pytest.mark.parametrize("args", [["--bootstrap", "99999999999"], ["--seed", "-5"]])
def test_agreement_option_limits(project: Path, args: list[str]):
    r = run_cli("agreement", *args, cwd=project)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_validate_export_needs_the_named_schema_version(project: Path):
    rec = {"doc_id": "d", "paragraph": 1, "text": "x", "title": None, "meta": {},
           "schema": {"id": "framing-devices", "version": 2, "sha256": ""},
           "annotations": []}
    (project / "e.jsonl").write_text(json.dumps(rec) + "\n", encoding="utf-8")
    r = run_cli("validate", "e.jsonl", cwd=project)
    assert r.returncode == 1 and "version 2 not found" in r.stdout


def test_empty_as_name_is_a_usage_error(project: Path):
    r = run_cli("annotate", str(REPO / "corpora" / "demo"), "--as", "", cwd=project)
    assert r.returncode == 2 and "--as needs a name" in r.stderr
