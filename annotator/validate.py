"""`annotator validate`: label schemas, `annotator.yaml` and export files.

Exports are checked line by line against `schemas/export-record.schema.json` and
against the label schema each record names: layers and labels exist, span offsets
lie inside the text and `text[start:end]` equals the span's text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator

from annotator.errors import InputError, Problem
from annotator.jsonl import iter_json_lines
from annotator.schema import LabelSchema, find_schema, load_schema, schemas_dir


@lru_cache(maxsize=1)
def _record_validator() -> Draft202012Validator:
    path = schemas_dir() / "export-record.schema.json"
    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def validate_file(path: Path, schema: str | Path | None = None,
                  project_dir: str | Path | None = None) -> list[Problem]:
    """Every problem of one file, located. Messages quote the file's keys and values
    (an annotator name, a label id): printing a Problem makes their controls visible
    and cuts long ones (errors.Problem.__str__)."""
    if not path.exists():
        return [Problem(str(path), 0, 0, "no such file")]
    if not path.is_file():  # a FIFO would hang the read; a directory is no file
        return [Problem(str(path), 0, 0, "not a regular file (a directory, FIFO or device): "
                                         "not read")]
    if path.name == "annotator.yaml":
        from annotator.project import validate_config_file

        return validate_config_file(path)
    if path.suffix in (".yaml", ".yml"):
        from annotator.schema import validate_schema_file

        return validate_schema_file(path)
    if path.suffix == ".jsonl":
        return validate_export(path, schema, project_dir)
    return [Problem(str(path), 0, 0, "cannot validate this kind of file: expected a label "
                                     "schema (.yaml), annotator.yaml or an export (.jsonl)")]


def read_export_records(path: Path) -> Iterator[dict]:
    """Export records for `agreement`: a line that is not a valid record raises
    InputError naming the file and line."""
    if not path.is_file():
        raise InputError("no such export file", path)
    validator = _record_validator()
    for lineno, _, obj in iter_json_lines(path):
        if isinstance(obj, Problem):
            raise InputError(obj)
        err = next(iter(validator.iter_errors(obj)), None)
        if err is not None:
            raise InputError(Problem(str(path), lineno, 1, _message(err)))
        yield obj


def _message(err) -> str:
    where = "/".join(str(p) for p in err.absolute_path)
    return f"{where}: {err.message}" if where else err.message


def schema_for_export(ref: dict, project_dir: str | Path | None = None
                      ) -> LabelSchema | None:
    """The label schema an export record names ({"id", "version"}), from the project's
    `schemas/` or the shipped ones; None unless that exact version is there."""
    root = Path(project_dir) if project_dir else Path.cwd()
    return find_schema(ref["id"], [root / "schemas", schemas_dir()], ref["version"])


def validate_export(path: Path, schema: str | Path | None = None,
                    project_dir: str | Path | None = None) -> list[Problem]:
    spath = str(path)
    problems: list[Problem] = []
    validator = _record_validator()
    given = load_schema(schema) if schema else None
    found: dict[tuple[str, str], LabelSchema | None] = {}
    seen_units: dict[tuple[str, int], int] = {}
    for lineno, _, obj in iter_json_lines(path):
        def bad(msg: str, _lineno: int = lineno) -> None:
            problems.append(Problem(spath, _lineno, 1, msg))

        if isinstance(obj, Problem):
            problems.append(obj)
            continue
        errors = list(validator.iter_errors(obj))
        for err in errors[:5]:
            bad(_message(err))
        if errors:
            continue
        key = (obj["doc_id"], obj["paragraph"])
        if key in seen_units:
            bad(f"unit {key[0]!r} paragraph {key[1]} already exported at line {seen_units[key]}")
        seen_units[key] = lineno
        ref = obj["schema"]
        if given is not None:
            label_schema = given
            if ref["id"] != given.id:
                bad(f"record names schema {ref['id']!r} but --schema is {given.id!r}")
                continue
        else:
            fkey = (ref["id"], str(ref["version"]))
            if fkey not in found:
                found[fkey] = schema_for_export(ref, project_dir)
            label_schema = found[fkey]
            if label_schema is None:
                bad(f"schema {ref['id']!r} version {ref['version']} not found in the "
                    "project's schemas/: give it with --schema")
                continue
        for i, ann in enumerate(obj["annotations"]):
            for msg in _annotation_problems(ann, obj["text"], label_schema):
                bad(f"annotations/{i} ({ann['annotator']}): {msg}")
        for msg in _gold_problems(obj, label_schema):
            bad(msg)
    return problems


def _gold_problems(record: dict, schema: LabelSchema) -> Iterator[str]:
    """A record's `gold`: labels and spans as any annotation's, and `decided_by` naming
    only annotators the record holds."""
    gold = record.get("gold")
    if gold is None:
        return
    ann = {"annotator": "gold", "relations": [], **gold}
    for msg in _annotation_problems(ann, record["text"], schema):
        yield f"gold: {msg}"
    names = {a["annotator"] for a in record["annotations"]}
    for key, who in [("decided_by", gold["decided_by"]),
                     *((f"decided_by_layer/{k}", v)
                       for k, v in (gold.get("decided_by_layer") or {}).items())]:
        for name in who:
            if name not in names:
                yield f"gold/{key}: {name!r} has no annotation in this record"


def _annotation_problems(ann: dict, text: str, schema: LabelSchema) -> Iterator[str]:
    for layer_id, value in ann["labels"].items():
        layer = schema.layer(layer_id)
        if layer is None or layer.kind == "span":
            yield f"labels: no paragraph layer {layer_id!r} in schema {schema.id!r}"
            continue
        if layer.kind == "multi" and not isinstance(value, list):
            yield f"labels/{layer_id}: a multi layer takes a list of label ids"
            continue
        if layer.kind == "single" and isinstance(value, list):
            yield f"labels/{layer_id}: a single layer takes one label id or null"
            continue
        for label in value if isinstance(value, list) else [value] if value else []:
            if layer.label(label) is None:
                yield f"labels/{layer_id}: no label {label!r} in layer {layer_id!r}"
    base = ann.get("original_text") if ann.get("stale") else text
    base = base if base is not None else text
    ids = set()
    for span in ann["spans"]:
        where = f"spans/{span['id']}"
        if span["id"] in ids:
            yield f"{where}: duplicate span id"
        ids.add(span["id"])
        layer = schema.layer(span["layer"])
        if layer is None or layer.kind != "span":
            yield f"{where}: no span layer {span['layer']!r} in schema {schema.id!r}"
        elif layer.label(span["label"]) is None:
            yield f"{where}: no label {span['label']!r} in layer {span['layer']!r}"
        start, end = span["start"], span["end"]
        if not 0 <= start < end <= len(base):
            yield f"{where}: offsets [{start}, {end}) outside the text (length {len(base)})"
        elif base[start:end] != span["text"]:
            yield (f"{where}: text[{start}:{end}] is {base[start:end]!r}, "
                   f"but the span's text is {span['text']!r}")
    for rel in ann["relations"]:
        for end_ in ("from", "to"):
            if rel[end_] not in ids:
                yield f"relations: {rel['label']} {end_} {rel[end_]!r}: no such span"
        known = {r.id for lay in schema.span_layers for r in lay.relations}
        if rel["label"] not in known:
            yield f"relations: no relation {rel['label']!r} in schema {schema.id!r}"
