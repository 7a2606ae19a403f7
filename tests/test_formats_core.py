"""The shared parts of the formats: offsets (UTF-16, NFC, BOM, CRLF, units cut as the
corpus reader cuts them), the import_state action and its replay, the all-or-nothing
import with a journal failing part way, --gold, skipped units."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from formats_util import SCHEMA, annotated_project
from hypothesis import given, settings
from hypothesis import strategies as st
from util import run_cli

from annotator.actions import ActionError, apply_action
from annotator.corpus import Document, read_text_document
from annotator.errors import StoreError
from annotator.formats import import_files
from annotator.formats.offsets import (
    CleanMap,
    OffsetError,
    Utf16,
    cp_to_utf8,
    split_units,
    utf8_to_cp,
)
from annotator.schema import load_schema
from annotator.store import SQLiteStore


def test_utf16_with_an_emoji_before_a_span():
    text = "\U0001F600 Bob"
    u = Utf16(text)
    assert u.from_cp(2) == 3 and u.to_cp(3) == 2 and u.to_cp(6) == 5
    with pytest.raises(OffsetError, match="inside a surrogate pair"):
        u.to_cp(1)
    with pytest.raises(OffsetError, match="outside"):
        u.to_cp(7)
    assert cp_to_utf8(text, 2) == 5 and utf8_to_cp(text, 5) == 2
    with pytest.raises(OffsetError):
        utf8_to_cp(text, 2)


def test_clean_map_bom_crlf_nfc():
    src = "\ufeffCafe\u0301\r\nna\u0308ive x"
    m = CleanMap(src)
    assert m.normalized == "Caf\u00e9\nn\u00e4ive x"
    assert m.map(1) == 0  # after the BOM
    assert m.map(src.index("x")) == m.normalized.index("x")
    assert m.map(src.index("\u0301") + 1) == 4  # after the composed é
    with pytest.raises(OffsetError, match="normalisation joins"):
        m.map(src.index("\u0301"))  # between e and its accent
    with pytest.raises(OffsetError):
        m.map(src.index("\n"))  # between \r and \n


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", " ", "\t", "\n", "\n", "\r\n", "e\u0301",
                                 "\ufeff", "\x1b", "\u00a0", "\U0001F600", "\x85", "  \n"]),
                max_size=30))
def test_units_are_cut_as_the_corpus_reader_cuts_them(tmp_path_factory, parts):
    text = "".join(parts)
    path = tmp_path_factory.mktemp("u") / "x.txt"
    path.write_bytes(text.encode("utf-8"))
    doc = read_text_document(path, "x")
    m = CleanMap(text)
    units = split_units(m.normalized, "blank")
    assert (units.title, units.paragraphs) == ((doc.title, doc.paragraphs) if doc else
                                                (None, []))
    from annotator.textclean import visible
    for unit in units.units:  # every piece maps back to the same characters
        for p in unit.pieces:
            assert visible(m.normalized[p.text_start:p.text_start + p.length]) == \
                unit.text[p.unit_start:p.unit_start + p.length]


def test_import_state_is_checked_and_replayed_after_a_reimport(project: Path):
    schema = load_schema(SCHEMA)
    with pytest.raises(ActionError, match="its text is not the unit's text"):
        apply_action(None, {"type": "import_state", "state": {"status": "done", "spans": [
            {"id": "s1", "layer": "quotes", "label": "quote", "start": 0, "end": 3,
             "text": "xyz"}]}}, schema, "abc")
    with pytest.raises(ActionError, match="no label"):
        apply_action(None, {"type": "import_state", "state": {"labels": {"devices": ["x"]}}},
                     schema, "abc")
    store = SQLiteStore(project / ".annotator")
    store.import_documents([Document("d", None, ["Hello world."])])
    j = store.journal("a", schema)
    state = {"status": "done", "labels": {"stance": "neutral"}, "spans": [
        {"id": "s1", "layer": "quotes", "label": "quote", "start": 0, "end": 5,
         "text": "Hello", "attributes": {}}], "relations": [], "note": None, "flag": False}
    assert j.apply_many([("d", 1, {"type": "import_state", "state": state,
                                   "source": "f:1"})]) == 1
    store.import_documents([Document("d", None, ["Goodbye world."])])  # text changes
    assert j.verify() == []
    j.undo()
    assert j.state("d", 1) is None and j.verify() == []


def test_a_journal_failing_part_way_says_what_was_stored(tmp_path: Path, monkeypatch):
    src = annotated_project(tmp_path / "p")
    out = tmp_path / "all.jsonl"
    assert run_cli("export", "--out", str(out), "--schema", str(SCHEMA), cwd=src).returncode == 0
    dst = tmp_path / "q"
    dst.mkdir()
    store = SQLiteStore(dst / ".annotator")
    from annotator.store.sqlite import SQLiteJournal

    # both write paths: a fresh journal's set-wise one and the general one
    for method in ("apply_many", "import_fresh"):
        real = getattr(SQLiteJournal, method)

        def failing(self, actions, progress=None, real=real, **kwargs):
            if self.annotator == "bob":
                raise StoreError("the disk is full", self.path)
            return real(self, actions, progress, **kwargs)
        monkeypatch.setattr(SQLiteJournal, method, failing)
    with pytest.raises(StoreError) as exc:
        import_files(store, load_schema(SCHEMA), "jsonl", [out], dst)
    msg = str(exc.value)
    assert "annotations stored for alice: 3 unit(s); NOT stored for bob (" in msg
    assert "the disk is full" in msg and "Running the same import again" in msg
    assert store.journal("alice").done_count() == 3
    assert store.journal("bob").done_count() == 0


def _with_gold_and_skip(root: Path) -> Path:
    project = annotated_project(root)
    store = SQLiteStore(project / ".annotator")
    schema = load_schema(SCHEMA)
    g = store.journal("gold", schema)
    g.apply("d1", 1, {"type": "toggle_label", "layer": "devices", "label": "sovereignty"})
    a = store.journal("alice", schema)
    a.apply("d2", 1, {"type": "import_state", "state": {"status": "skipped"}})
    store.close()
    return project


def test_gold_export_and_skipped_units(tmp_path: Path):
    project = _with_gold_and_skip(tmp_path / "p")
    out = tmp_path / "gold.jsonl"
    r = run_cli("export", "--format", "jsonl", "--gold", "--out", str(out),
                "--schema", str(SCHEMA), cwd=project)
    assert r.returncode == 0, r.stderr
    (rec,) = [json.loads(x) for x in out.read_text().splitlines()]
    # gold-only records: the shape of one annotation, by annotator "gold" (PRODUCT.md)
    (gold,) = rec["annotations"]
    assert gold["annotator"] == "gold" and gold["labels"]["devices"] == ["sovereignty"]
    # --gold in another format too: the gold is a journal, not an annotator
    r = run_cli("export", "--format", "csv", "--gold", "--out", str(tmp_path / "g.csv"),
                "--schema", str(SCHEMA), cwd=project)
    assert r.returncode == 0, r.stderr
    rows = (tmp_path / "g.csv").read_text().splitlines()
    assert len(rows) > 1 and all(",gold," in row for row in rows[1:]), rows
    # gold is not an annotator in a normal export
    out = tmp_path / "p.jsonl"
    assert run_cli("export", "--format", "prodigy", "--out", str(out), "--allow-loss",
                   "--schema", str(SCHEMA), cwd=project).returncode == 0
    tasks = [json.loads(x) for x in out.read_text().splitlines()]
    assert {t["_annotator_id"] for t in tasks} == {"alice", "bob"}
    skipped = [t for t in tasks if t["answer"] == "ignore"]
    assert [(t["meta"]["doc_id"], t["_annotator_id"]) for t in skipped] == [("d2", "alice")]
    # a format that cannot say "skipped" lists it
    r = run_cli("export", "--format", "semeval2023-t3", "--annotator", "alice", "--out",
                str(tmp_path / "s"), "--schema", str(SCHEMA), cwd=project)
    assert r.returncode == 1 and "marked not content (skipped)" in r.stderr
    # brat says it
    r = run_cli("export", "--format", "brat", "--annotator", "alice", "--out",
                str(tmp_path / "b"), "--schema", str(SCHEMA), cwd=project)
    assert r.returncode == 0, r.stderr
    assert "\tSkipped T1" in (tmp_path / "b" / "d2.ann").read_text()


def test_help_lists_the_formats():
    r = run_cli("export", "--help")
    for name in ("jsonl", "semeval2023-t3", "ptc", "brat", "label-studio", "doccano",
                 "prodigy", "csv", "parquet"):
        assert f"  {name} " in r.stdout
    r = run_cli("import", "--help")
    assert "  prodigy " in r.stdout and "  parquet " not in r.stdout
    r = run_cli("import", "x", "--as", "bob")
    assert r.returncode == 2 and "--as applies to an import with --format only" in r.stderr
