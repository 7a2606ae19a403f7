"""Corpus import: text cleaning, readers, hostile input, re-import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from util import REPO, run_cli

from annotator.corpus import iter_jsonl_documents, read_text_document, split_paragraphs
from annotator.errors import InputError
from annotator.importer import import_paths
from annotator.store import SQLiteStore
from annotator.textclean import clean_text


def test_clean_text_replaces_controls_one_for_one():
    raw = "a\x1b[31mb\x00c\x9bd\x7fe\tf\u202eg"
    out = clean_text(raw)
    assert len(out) == len(raw)
    assert "\x1b" not in out and "\x00" not in out and "\x9b" not in out
    assert out[1] == "\u241b"  # ␛
    assert out.startswith("a\u241b[31mb\u2400c")


def test_clean_text_nfc_newlines_bom():
    assert clean_text("\ufeffx\r\ny\rz") == "x\ny\nz"
    assert clean_text("Cafe\u0301") == "Caf\u00e9"


def test_split_paragraphs_blank_lines_with_spaces():
    assert split_paragraphs("a\nb\n \t\nc\n\n\n") == ["a\nb", "c"]


def test_txt_title_and_paragraphs(tmp_path: Path):
    f = tmp_path / "a.txt"
    f.write_text("\n\nTitle here\nFirst para.\n\nSecond\u00a0para.\n", encoding="utf-8")
    doc = read_text_document(f, "a")
    assert doc.title == "Title here"
    assert doc.paragraphs == ["First para.", "Second\u00a0para."]
    assert doc.units()[0] == (0, "Title here")


def test_md_heading_title(tmp_path: Path):
    f = tmp_path / "a.md"
    f.write_text("# A heading\n\nbody\n", encoding="utf-8")
    assert read_text_document(f, "a").title == "A heading"


def test_invalid_utf8_names_byte_offset(tmp_path: Path):
    f = tmp_path / "bad.txt"
    f.write_bytes(b"Title\n\nok line\nbad \xff here\n")
    with pytest.raises(InputError) as exc:
        read_text_document(f, "bad")
    msg = str(exc.value)
    assert "bad.txt:4:5" in msg and "byte offset 19" in msg


@pytest.mark.parametrize("line,expect", [
    ("{not json", "invalid JSON"),
    ('{"title": "x", "text": "y"}', "'id'"),
    ('{"id": "a", "text": "y", "paragraphs": []}', "exactly one"),
    ('{"id": "a", "paragraphs": [1]}', "list of strings"),
    ('{"id": "a", "text": "t", "colour": 1}', "unknown key"),
    ('[1, 2]', "JSON object"),
])
def test_bad_jsonl_line_names_file_and_line(tmp_path: Path, line: str, expect: str):
    f = tmp_path / "c.jsonl"
    f.write_text('{"id": "ok", "text": "fine"}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        list(iter_jsonl_documents(f))
    assert f"{f}:3:" in str(exc.value)
    assert expect in str(exc.value)


def test_duplicate_jsonl_id(tmp_path: Path):
    f = tmp_path / "c.jsonl"
    f.write_text('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"c.jsonl:2:1: duplicate document id"):
        list(iter_jsonl_documents(f))


def _hostile_corpus(d: Path) -> Path:
    d.mkdir()
    (d / "escapes.txt").write_text(
        "Title \x1b]0;pwned\x07 here\n\nText with \x1b[31mred\x1b[0m and \x9b2J and "
        "[@click=app.quit]click[/] and [bold]bold[/bold] and a malformed [/ tag.\n",
        encoding="utf-8")
    (d / "crlf.txt").write_bytes("\ufeffCRLF title\r\n\r\nline one\r\nline two\r\n\r\n"
                                 "second para\r\n".encode())
    (d / "empty.txt").write_bytes(b"")
    big = "word " * (5 * 1024 * 1024 // 5)
    (d / "big.jsonl").write_text(json.dumps({"id": "big", "title": "Big",
                                             "paragraphs": [big.strip(), "after"]}) + "\n",
                                 encoding="utf-8")
    return d


def test_hostile_corpus_imports_safely(project: Path):
    corpus = _hostile_corpus(project / "hostile")
    store = SQLiteStore(project / ".annotator")
    stats = import_paths(store, [corpus], project)
    assert stats.new == 3
    assert any("empty.txt" in s for s in stats.skipped)
    esc = store.units("hostile/escapes")
    assert esc[0].text == "Title \u241b]0;pwned\u2407 here"
    body = esc[1].text
    assert "\x1b" not in body and "\x9b" not in body
    assert "[@click=app.quit]click[/]" in body  # kept literally: markup is the TUI's job
    crlf = store.units("hostile/crlf")
    assert [u.text for u in crlf] == ["CRLF title", "line one\nline two", "second para"]
    big = store.unit("big", 1)
    assert len(big.text) > 5_000_000 - 10
    assert store.unit("big", 2).text == "after"
    assert store.document("big").has_title


def test_file_with_error_imports_nothing(project: Path):
    corpus = project / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("A\n\nfine\n", encoding="utf-8")
    (corpus / "b.jsonl").write_text('{"id": "x", "text": "ok"}\n{"id": \n', encoding="utf-8")
    store = SQLiteStore(project / ".annotator")
    with pytest.raises(InputError, match="b.jsonl:2"):
        import_paths(store, [corpus], project)
    assert store.document_count() == 0


def test_reimport_unchanged_and_changed_keeps_annotations(project: Path):
    f = project / "doc.txt"
    f.write_text("T\n\nalpha paragraph\n\nbeta paragraph\n", encoding="utf-8")
    store = SQLiteStore(project / ".annotator")
    s1 = import_paths(store, [f], project)
    assert (s1.new, s1.unchanged) == (1, 0)
    j = store.journal("alice")
    j.apply("doc", 1, {"type": "add_span", "layer": "quotes", "label": "quote",
                       "start": 0, "end": 5})
    j.apply("doc", 2, {"type": "mark_done"})
    s2 = import_paths(store, [f], project)
    assert (s2.new, s2.unchanged, s2.changed) == (0, 1, 0)
    f.write_text("T\n\nALPHA paragraph, edited\n\nbeta paragraph\n", encoding="utf-8")
    s3 = import_paths(store, [f], project)
    assert s3.changed == 1
    assert s3.stale == [("doc", 1, "alice")]
    # kept, never re-aligned: the span still says "alpha", the unit's text is new
    state = j.state("doc", 1)
    assert state["spans"][0]["text"] == "alpha"
    assert store.unit("doc", 1).text.startswith("ALPHA")
    assert store.old_text("doc", 1, j.info("doc", 1)["unit_sha"]) == "alpha paragraph"
    assert j.state("doc", 2)["status"] == "done"
    # the unchanged paragraph is not stale
    assert j.info("doc", 2)["unit_sha"] == store.unit("doc", 2).sha


def test_annotate_only_reimports_changed_files(project: Path):
    f = project / "doc.txt"
    f.write_text("T\n\nbody\n", encoding="utf-8")
    store = SQLiteStore(project / ".annotator")
    assert import_paths(store, [f], project, only_changed=True).files == 1
    assert import_paths(store, [f], project, only_changed=True).files == 0
    f.write_text("T\n\nbody 2\n", encoding="utf-8")
    assert import_paths(store, [f], project, only_changed=True).changed == 1


def test_demo_corpus_imports(project: Path):
    store = SQLiteStore(project / ".annotator")
    stats = import_paths(store, [REPO / "corpora" / "demo"], project)
    assert 4 <= stats.new <= 8
    assert not stats.skipped
    texts = [u.text for d in store.iter_documents() for u in store.units(d.id)]
    assert any("\u201c" in t for t in texts), "curly quotes in the demo"
    assert any("\u00a0" in t for t in texts), "a non-breaking space leftover"


def test_import_cli_bad_file_exit_1_no_traceback(project: Path):
    (project / "bad.jsonl").write_text('{"id": 1, "text": "ok"}\n{oops}\n', encoding="utf-8")
    r = run_cli("import", "bad.jsonl", cwd=project)
    assert r.returncode == 1
    assert "bad.jsonl:2:" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("status", cwd=project)
    assert r.returncode == 0 and "0 document(s)" in r.stdout


def test_import_cli_invalid_utf8(project: Path):
    (project / "bad.txt").write_bytes(b"Title\n\n\xc3\x28 broken\n")
    r = run_cli("import", "bad.txt", cwd=project)
    assert r.returncode == 1
    assert "bad.txt:3:1: invalid UTF-8 at byte offset 7" in r.stderr


def test_same_id_in_two_files_is_an_error(project: Path):
    (project / "a.jsonl").write_text('{"id": "x", "text": "one"}\n', encoding="utf-8")
    (project / "b.jsonl").write_text('{"id": "x", "text": "two"}\n', encoding="utf-8")
    r = run_cli("import", "a.jsonl", "b.jsonl", cwd=project)
    assert r.returncode == 1 and "'x' is given twice" in r.stderr
    assert "Traceback" not in r.stderr
    assert SQLiteStore(project / ".annotator").document_count() == 0
