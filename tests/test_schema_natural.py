"""Schemas written the natural way: `name` on layers and relations may be left out
(it defaults from the id), `from: quote` is as good as `from: [quote]`, and an
unknown key says which known key it is closest to, at its file:line:col."""

from __future__ import annotations

from pathlib import Path

from util import run_cli

from annotator.schema import load_schema, validate_schema_file

NATURAL = """\
id: natural
version: 1
title: Quotes, written briefly
layers:
  - id: stance
    kind: single
    labels:
      - {id: positive, name: Positive, key: "1", description: d}
  - id: quotes
    kind: span
    labels:
      - {id: quote, name: Quote, key: Q, description: d}
      - {id: source, name: Source, key: S, description: d}
    relations:
      - id: attributed_to
        from: quote
        to: source
"""


def test_names_default_from_ids_and_from_takes_one_id(tmp_path: Path) -> None:
    path = tmp_path / "natural.yaml"
    path.write_text(NATURAL, encoding="utf-8")
    assert validate_schema_file(path) == []
    schema = load_schema(path)
    assert schema.layer("stance").name == "Stance"
    quotes = schema.layer("quotes")
    (rel,) = quotes.relations
    assert rel.name == "Attributed to"
    assert rel.sources == ("quote",) and rel.targets == ("source",)
    # the list form still works, and means the same
    listed = tmp_path / "listed.yaml"
    listed.write_text(NATURAL.replace("from: quote", "from: [quote]")
                      .replace("to: source", "to: [source]"), encoding="utf-8")
    assert load_schema(listed).layer("quotes").relations == quotes.relations
    assert run_cli("validate", str(path)).returncode == 0


def test_a_single_unknown_label_in_from_is_located(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(NATURAL.replace("from: quote", "from: qoute"), encoding="utf-8")
    problems = validate_schema_file(path)
    assert [(p.line, p.col) for p in problems] == [(16, 9)], problems  # its key
    assert "names unknown label 'qoute'" in problems[0].message


def test_an_unknown_key_says_the_closest_known_one(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(NATURAL.replace("  - id: stance\n", "  - id: stance\n    title: Stance\n"),
                    encoding="utf-8")
    r = run_cli("validate", str(path))
    assert r.returncode == 1
    assert (f"{path}:6:5: layers[0]: unknown property 'title': did you mean 'name'?"
            in r.stdout), r.stdout
    path.write_text(NATURAL.replace("        to: source", "        to: source\n"
                                    "        descripton: who said it"), encoding="utf-8")
    r = run_cli("validate", str(path))
    assert r.returncode == 1
    assert f"{path}:18:9:" in r.stdout
    assert "unknown property 'descripton': did you mean 'description'?" in r.stdout
