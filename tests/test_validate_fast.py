"""The compiled record types (msgspec, from the JSON Schema files) accept only what
the JSON Schema accepts, and the reader (compiled type, then jsonschema for what it
refuses) accepts exactly what the JSON Schema accepts: checked on records made by
breaking valid ones at random, for both record schemas."""

from __future__ import annotations

import copy
import json

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from annotator.jsonl import MAX_DEPTH, Unsupported, compile_record_schema
from annotator.validate import EXPORT_RECORD, INTERCHANGE_RECORD, record_checker

GOOD = {"doc_id": "d", "paragraph": 3, "text": "abc def", "title": None, "meta": {"k": [1, 2.5]},
        "schema": {"id": "s", "version": 1, "sha256": "a" * 64},
        "annotations": [{"annotator": "alice", "status": "done",
                         "labels": {"devices": ["x", "y"], "stance": None, "t": "p"},
                         "spans": [{"id": "s1", "layer": "q", "label": "quote", "start": 0,
                                    "end": 3, "text": "abc", "attributes": {"k": "v"}}],
                         "relations": [{"label": "r", "from": "s1", "to": "s1"}],
                         "note": None, "flag": False, "updated_at": "2026-01-01T00:00:00Z",
                         "seconds": 2.5, "stale": False, "original_text": None}],
        "agreement": {"annotators": 1, "labels": {}}}

VALUES = st.sampled_from([None, True, False, 0, 1, -1, 1.0, 2.5, -0.5, "", "x", "done", "a" * 64,
                          "A" * 64, "a" * 63, [], ["x"], ["x", "x"], ["x", 1], {}, {"k": 1},
                          {"annotators": 1}, 10**30, "\ud800"])


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, (*prefix, i))


@st.composite
def broken(draw, base=GOOD):
    rec = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(list(paths(rec))))
        if not where:
            continue
        parent = rec
        for k in where[:-1]:
            parent = parent[k]
        how = draw(st.sampled_from(["replace", "delete", "add"]))
        if how == "delete":
            del parent[where[-1]]
        elif how == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "from", "id", "labels"]))] = copy.deepcopy(draw(VALUES))
        else:
            parent[where[-1]] = copy.deepcopy(draw(VALUES))
    return rec


def residual_ok(rec) -> bool:
    """The check the compiled types leave to the reader (`uniqueItems` of label lists),
    made here as read_export makes it."""
    assert record_checker(EXPORT_RECORD).compiled.residual == {
        (("annotations", "*", "labels", "*"), "uniqueItems"),
        (("gold", "labels", "*"), "uniqueItems")}
    gold = getattr(rec, "gold", None)
    gold_labels = getattr(gold, "labels", None) or {}
    return all(len(set(v)) == len(v) for a in rec.annotations for v in (a.labels or {}).values()
               if isinstance(v, list)) and all(
        len(set(v)) == len(v) for v in gold_labels.values() if isinstance(v, list))


def check(name: str, rec: dict) -> None:
    checker = record_checker(name)
    truth = Draft202012Validator(checker.json_schema).is_valid(rec)
    raw = json.dumps(rec).encode()
    fast = checker.fast(raw)
    if fast is not None and residual_ok(fast):
        assert truth, ("the compiled type accepted what the JSON Schema rejects", rec)
    got, problems = checker.check(raw, "f.jsonl", 1)
    if not problems and not residual_ok(got):  # what read_export does then
        problems = checker.slow(raw, "f.jsonl", 1, 0)[1]
    assert (not problems) == truth, (rec, problems)


@settings(max_examples=400, deadline=None)
@given(broken())
def test_export_record_fast_path_rejects_exactly_what_the_schema_rejects(rec):
    check(EXPORT_RECORD, rec)


MINIMAL = {"doc_id": "d", "paragraph": 1,
           "annotations": [{"annotator": "a", "labels": {"l": ["x"]},
                            "spans": [{"layer": "q", "label": "x", "start": 0, "end": 1}]}]}


@settings(max_examples=300, deadline=None)
@given(broken(MINIMAL))
def test_interchange_record_fast_path_rejects_exactly_what_the_schema_rejects(rec):
    check(INTERCHANGE_RECORD, rec)


def test_the_fast_path_is_taken_and_can_be_wrong():
    """Valid records go through the compiled type, and a compiled type that forgot a
    constraint would be caught by the checks above (so they can fail)."""
    checker = record_checker(EXPORT_RECORD)
    assert checker.fast(json.dumps(GOOD).encode()) is not None
    loose = json.loads(json.dumps(checker.json_schema))
    del loose["properties"]["paragraph"]["minimum"]
    compiled = compile_record_schema(loose)
    bad = dict(GOOD, paragraph=-1)
    assert compiled.decoder.decode(json.dumps(bad).encode()) is not None
    assert not Draft202012Validator(checker.json_schema).is_valid(bad)


def test_unknown_keywords_are_refused_not_ignored():
    import pytest

    for extra in ({"maxLength": 3}, {"oneOf": [{"type": "string"}]}, {"if": {}},
                  {"patternProperties": {}}):
        with pytest.raises(Unsupported):
            compile_record_schema({"type": "object", "properties": {"a": {"type": "string",
                                                                           **extra}}})


def test_deep_and_strict_lines_go_to_the_strict_parser():
    checker = record_checker(EXPORT_RECORD)
    deep = dict(GOOD, meta={"k": json.loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))})
    raw = json.dumps(deep).encode()
    assert checker.fast(raw) is None
    _, problems = checker.check(raw, "f.jsonl", 1)
    assert problems and "nested more than" in problems[0].message
    for text in (b'"meta": {"x": NaN}', b'"meta": {"x": 1e400}'):
        raw = json.dumps(GOOD).encode().replace(b'"meta": {"k": [1, 2.5]}', text)
        assert checker.fast(raw) is None
        assert checker.check(raw, "f.jsonl", 1)[1]


def test_the_batch_reader_keeps_depth_lines_and_offsets(tmp_path):
    """read_export decodes batches of lines at once: a value nested too deep where the
    types leave it open (meta, agreement/labels) is still refused, at its line; a line
    with many brackets but a shallow record is valid; a field the JSON Schema allows but
    the compiled type refuses (an extra key in `agreement`) is valid; blank lines and a
    BOM keep every line number and byte offset right."""
    from annotator.validate import read_export

    schema_dir = tmp_path / "schemas"
    schema_dir.mkdir()
    (schema_dir / "s.yaml").write_text(
        "id: s\nversion: 1\ntitle: s\nlayers:\n  - id: devices\n    name: D\n    kind: multi\n"
        "    labels:\n      - {id: x, name: x, description: d}\n"
        "  - id: q\n    name: Q\n    kind: span\n    labels:\n"
        "      - {id: quote, name: quote, description: d}\n", encoding="utf-8")
    from annotator.schema import load_schema

    sha = load_schema(schema_dir / "s.yaml").sha256

    def rec(par: int, **extra) -> dict:
        out = {"doc_id": "d", "paragraph": par, "text": "abc def", "title": None,
               "meta": {}, "schema": {"id": "s", "version": 1, "sha256": sha},
               "annotations": [{"annotator": "alice", "status": "done",
                                "labels": {"devices": ["x"]}, "spans": [],
                                "relations": [], "note": None, "flag": False,
                                "updated_at": "2026-01-01T00:00:00Z"}]}
        out.update(extra)
        return out

    deep = json.loads("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))
    many_spans = rec(3)
    many_spans["annotations"][0]["spans"] = [
        {"id": f"s{k}", "layer": "q", "label": "quote", "start": 0, "end": 3,
             "text": "abc"}
        for k in range(80)]
    good = [rec(1), rec(2, meta={"k": deep[0]}),  # depth exactly MAX_DEPTH
            many_spans, rec(4, agreement={"annotators": 1, "labels": {}, "more": [[1]]})]
    path = tmp_path / "e.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in good), encoding="utf-8")
    read = read_export(path, project_dir=tmp_path)
    assert read.problems == [] and read.records == 4
    for bad, where in ((rec(5, meta={"k": deep}), "meta"),
                       (rec(5, agreement={"annotators": 1, "labels": {"k": deep}}), "agreement")):
        lines = [json.dumps(r) for r in good] + [json.dumps(bad)]
        # 71 lines: the bad one last, in the second batch; a BOM and blank lines before it
        body = "\ufeff" + "\n".join([lines[0], lines[1], lines[3]]) + "\n\n  \n" + "\n".join(
            json.dumps(rec(10 + k)) for k in range(64)) + "\n" + "\n".join(
            [lines[2], lines[4]]) + "\n"
        path.write_text(body, encoding="utf-8")
        read = read_export(path, project_dir=tmp_path)
        assert [(p.line, "nested more than" in p.message) for p in read.problems] \
            == [(71, True)], (where, read.problems)
    # an invalid byte deep in a fast batch: located by its byte offset in the file
    lines = [json.dumps(rec(k)).encode() for k in range(1, 100)]
    lines[80] = lines[80].replace(b"abc def", b"abc \xff")
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    read = read_export(path, project_dir=tmp_path)
    offset = 3 + sum(len(x) + 1 for x in lines[:80]) + lines[80].index(b"\xff")
    assert [(p.line, p.message) for p in read.problems] == [
        (81, f"invalid UTF-8 at byte offset {offset}")]
