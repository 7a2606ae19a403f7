"""Label schemas: the safe YAML loader, validation located to the line, shipped schemas."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from annotator import keys
from annotator.errors import InputError
from annotator.schema import (
    default_schema_path,
    find_schema,
    load_schema,
    schemas_dir,
    validate_schema_file,
)
from annotator.yamlload import load_yaml_text

BROKEN = sorted((Path(__file__).parent / "data" / "schemas" / "broken").glob("*.yaml"))
SHIPPED = sorted(schemas_dir().glob("*.yaml"))


def _expectation(path: Path) -> tuple[int, str]:
    """Each broken file states its expected line and message in its first two lines
    (read as bytes: one of them is deliberately not UTF-8 further down)."""
    head = path.read_bytes().split(b"\n")[:2]
    line = re.match(rb"# expect-line: (\d+)", head[0])
    message = re.match(rb"# expect-message: (.+)", head[1])
    assert line and message, f"{path.name} lacks its expect-line / expect-message comments"
    return int(line.group(1)), message.group(1).decode().strip()


def test_there_are_enough_broken_schemas() -> None:
    assert len(BROKEN) >= 12


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_schema_fails_at_expected_line(path: Path) -> None:
    line, message = _expectation(path)
    problems = validate_schema_file(path)
    assert problems, f"{path.name} validated"
    assert [p.line for p in problems] == [line] * len(problems), "\n".join(map(str, problems))
    assert any(message in p.message for p in problems), "\n".join(map(str, problems))
    assert all(str(p).startswith(f"{path}:{line}:") for p in problems)
    with pytest.raises(InputError) as exc:
        load_schema(path)
    assert exc.value.problems == problems


def test_zero_byte_file_is_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_bytes(b"")
    [problem] = validate_schema_file(empty)
    assert (problem.line, problem.col) == (1, 1)
    assert "empty" in problem.message


def test_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    [problem] = validate_schema_file(tmp_path / "nope.yaml")
    assert "cannot read" in problem.message


def test_invalid_utf8_names_byte_offset() -> None:
    [problem] = validate_schema_file(next(p for p in BROKEN if p.stem == "invalid-utf8"))
    raw = next(p for p in BROKEN if p.stem == "invalid-utf8").read_bytes()
    assert f"byte offset {raw.index(0xE9)}" in problem.message


@pytest.mark.parametrize(
    "payload",
    [
        '!!python/object/apply:os.system ["touch {marker}"]',
        '!!python/object/new:os.system ["touch {marker}"]',
        '!!python/object/apply:subprocess.check_call [["touch", "{marker}"]]',
        "!!python/name:os.system",
        "!!python/module:os",
    ],
)
def test_python_tags_are_refused_without_executing(
    payload: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "executed"

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("the loader tried to run something")

    monkeypatch.setattr(os, "system", boom)
    monkeypatch.setattr(subprocess, "check_call", boom)
    monkeypatch.setattr(subprocess, "Popen", boom)
    schema = tmp_path / "evil.yaml"
    schema.write_text(
        "id: evil\nversion: 1\ntitle: " + payload.format(marker=marker) + "\nlayers: []\n",
        encoding="utf-8",
    )
    [problem] = validate_schema_file(schema)
    assert (problem.line, "!!python/") == (3, problem.message[5:14])
    assert "not allowed" in problem.message
    assert not marker.exists()


def test_loader_positions_and_plain_data() -> None:
    doc = load_yaml_text("a: 1\nb:\n  - x\n  - {c: 2022-04-23, d: null}\n", "t.yaml")
    assert doc.data == {"a": 1, "b": ["x", {"c": "2022-04-23", "d": None}]}
    assert doc.positions[("b", 1)] == (4, 5)
    assert doc.key_positions[("b", 1, "d")] == (4, 21)
    assert doc.locate(("b", 1, "missing")) == (4, 5)
    assert doc.locate(("b",)) == (2, 1)


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a'"),
        ("a: &x 1\nb: *x\n", 1, "anchor"),
        ("a: !!set {x}\n", 1, "tag '!!set'"),
        ("a: !local 1\n", 1, "tag '!local'"),
        ("<<: {a: 1}\n", 1, "merge keys"),
        ("a: 1\nb: \x07\n", 2, "#x0007"),
        ("---\na: 1\n---\nb: 2\n", 3, "single document"),
    ],
)
def test_loader_refusals(text: str, line: int, needle: str) -> None:
    with pytest.raises(InputError) as exc:
        load_yaml_text(text, "t.yaml")
    [problem] = exc.value.problems
    assert problem.line == line
    assert needle in problem.message


def test_label_schema_json_schema_is_valid() -> None:
    meta = json.loads((schemas_dir() / "label-schema.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(meta)
    assert meta["$id"] and meta["title"]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_schema_validates_and_loads(path: Path) -> None:
    assert validate_schema_file(path) == []
    schema = load_schema(path)
    assert schema.id == path.stem or schema.id == "framing-devices"
    assert schema.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert path.read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=./label-schema.schema.json"
    )
    for layer in schema.layers:
        for label in layer.labels:
            assert label.description, f"{layer.id}/{label.id} has no description"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_hotkeys_unique_and_unreserved(path: Path) -> None:
    schema = load_schema(path)
    used = [lab.key for lay in schema.layers for lab in lay.labels if lab.key]
    used += [
        att.key for lay in schema.layers for lab in lay.labels for att in lab.attributes if att.key
    ]
    assert len(used) == len(set(used))
    assert not set(used) & keys.RESERVED_KEYS


def test_default_schema() -> None:
    path = default_schema_path()
    assert path == schemas_dir() / "framing-devices.yaml"
    schema = load_schema(path)
    assert (schema.id, schema.version) == ("framing-devices", 1)
    assert schema.guidelines
    assert [(lay.id, lay.kind) for lay in schema.layers] == [
        ("devices", "multi"),
        ("stance", "single"),
        ("quotes", "span"),
    ]
    assert [lab.key for lab in schema.layer("stance").labels] == ["1", "2", "3", "4"]
    quotes = schema.layer("quotes")
    [rel] = quotes.relations
    assert (rel.id, rel.sources, rel.targets) == ("attributed_to", ("quote",), ("source",))
    [att] = quotes.label("quote").attributes
    assert (att.id, att.values, att.default, att.key) == (
        "type",
        ("direct", "indirect"),
        "direct",
        None,
    )
    for layer in schema.layers:
        for label in layer.labels:
            assert 1 <= len(label.examples) <= 3, label.id


def test_presets_keep_exact_ids() -> None:
    ptc = load_schema(schemas_dir() / "ptc2020.yaml")
    [layer] = ptc.layers
    assert layer.kind == "span" and len(layer.labels) == 14
    assert layer.label("Name_Calling,Labeling") and layer.label(
        "Whataboutism,Straw_Men,Red_Herring"
    )
    persuasion = load_schema(schemas_dir() / "semeval2023-persuasion.yaml")
    [layer] = persuasion.layers
    assert len(layer.labels) == 23 and layer.kind == "multi"
    assert layer.label("Name_Calling-Labeling").category == "attack_on_reputation"
    assert persuasion.source and "SemEval-2023" in persuasion.source
    frames = load_schema(schemas_dir() / "semeval2023-frames.yaml")
    assert len(frames.layers[0].labels) == 14
    mfc = load_schema(schemas_dir() / "media-frames.yaml")
    assert len(mfc.layer("frames").labels) == 15


def test_find_schema(tmp_path: Path) -> None:
    found = find_schema("ptc2020", [tmp_path, schemas_dir()])
    assert found is not None and found.path == schemas_dir() / "ptc2020.yaml"
    assert find_schema("no-such-schema", [schemas_dir()]) is None
    # a broken file in the search path is skipped, not fatal
    (tmp_path / "bad.yaml").write_text("id: [\n", encoding="utf-8")
    assert find_schema("framing-devices", [tmp_path, schemas_dir()]) is not None


def test_find_schema_through_the_parse_cache(tmp_path: Path, monkeypatch) -> None:
    """With a cache, the first look-up validates and stores the file it finds; the next
    finds the same schema from the cache without parsing YAML, and a changed file (other
    bytes) is parsed again."""
    from annotator import yamlload
    from annotator.parse_cache import ParseCache

    cache = ParseCache(tmp_path / "cache", "schema")
    d = tmp_path / "schemas"
    d.mkdir()
    (d / "bad.yaml").write_text("id: [\n", encoding="utf-8")  # never cached: skipped
    (d / "s.yaml").write_text(
        "id: s\nversion: 3\ntitle: S\nlayers:\n  - id: l\n    name: L\n    kind: multi\n"
        "    labels:\n      - {id: a, name: A, description: d}\n", encoding="utf-8")
    first = find_schema("s", [d], 3, cache)
    assert first is not None and first.version == 3 and first.path == d / "s.yaml"
    assert find_schema("s", [d], 4, cache) is None  # another version: not this file

    parsed = []
    real = yamlload.load_yaml_bytes
    monkeypatch.setattr(yamlload, "load_yaml_bytes",
                        lambda raw, name: parsed.append(name) or real(raw, name))
    again = find_schema("s", [d], 3, cache)
    assert again == first and again.sha256 == first.sha256
    assert parsed == [str(d / "bad.yaml")]  # only the file that never validated
    (d / "s.yaml").write_text((d / "s.yaml").read_text(encoding="utf-8")
                              .replace("version: 3", "version: 4"), encoding="utf-8")
    parsed.clear()
    changed = find_schema("s", [d], 4, cache)
    assert changed is not None and changed.version == 4
    assert str(d / "s.yaml") in parsed


def test_key_written_as_character_is_normalised(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "id: s\nversion: '2'\ntitle: S\nlayers:\n  - id: l\n    name: L\n    kind: multi\n"
        "    labels:\n      - {id: 'a, b', name: A, description: '', key: '$'}\n",
        encoding="utf-8",
    )
    [problem] = validate_schema_file(path)
    assert problem.line == 9 and "reserved" in problem.message  # '$' is line_end
    path.write_text(path.read_text().replace("'$'", "'%'"), encoding="utf-8")
    schema = load_schema(path)
    assert schema.version == "2"
    assert schema.layers[0].labels[0].id == "a, b"
