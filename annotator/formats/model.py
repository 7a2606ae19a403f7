"""What readers and writers share: label lookup in the schema, the unit state a reader
builds, the located problems it collects, and what a writer is handed per document."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from annotator.corpus import Document
from annotator.errors import InputError, Problem
from annotator.formats.loss import LossReport
from annotator.schema import LabelSchema, Layer
from annotator.store.base import DocInfo, Unit
from annotator.textclean import clean_text, safe_inline

MAX_PROBLEMS = 200  # located problems collected before a reader gives up


class LabelIndex:
    """Label ids of the schema by kind: which layer holds a label, and the name to
    write for it where a format has one namespace for all labels (`layer:label` only
    when two layers share the id)."""

    def __init__(self, schema: LabelSchema):
        self.schema = schema
        self._para: dict[str, list[Layer]] = {}
        self._span: dict[str, list[Layer]] = {}
        for layer in schema.layers:
            table = self._span if layer.kind == "span" else self._para
            for lab in layer.labels:
                table.setdefault(lab.id, []).append(layer)
        self.relations = {r.id: (layer, r) for layer in schema.span_layers
                          for r in layer.relations}
        # name -> paragraph(name): a SemEval import looks a technique up a million times
        self._para_seen: dict[str, tuple[Layer | None, str, str]] = {}

    def _find(self, table: dict[str, list[Layer]], name: str
              ) -> tuple[Layer | None, str, str]:
        layers = table.get(name, [])
        if len(layers) == 1:
            return layers[0], name, ""
        if len(layers) > 1:
            return None, name, (f"label {name!r} is in several layers "
                                f"({', '.join(la.id for la in layers)}): write it as "
                                f"LAYER:{name}")
        layer_id, sep, label = name.partition(":")
        if sep:
            layer = self.schema.layer(layer_id)
            if layer is not None and layer in table.get(label, []):
                return layer, label, ""
        return None, name, f"no label {name!r} in schema {self.schema.id!r}"

    def paragraph(self, name: str) -> tuple[Layer | None, str, str]:
        """(layer, label id, error message) for a paragraph-level label name."""
        got = self._para_seen.get(name)
        if got is not None:
            return got
        layer, label, err = self._find(self._para, name)
        if layer is None and self._find(self._span, name)[0] is not None:
            err = f"label {name!r} is a span label, not a paragraph label"
        if len(self._para_seen) < 10_000:  # names from a file: bounded
            self._para_seen[name] = (layer, label, err)
        return layer, label, err

    def span(self, name: str) -> tuple[Layer | None, str, str]:
        layer, label, err = self._find(self._span, name)
        if layer is None and self._find(self._para, name)[0] is not None:
            err = f"label {name!r} is a paragraph label, not a span label"
        return layer, label, err

    def name(self, layer: Layer, label: str) -> str:
        """The name to write for (layer, label) in a flat label namespace."""
        table = self._span if layer.kind == "span" else self._para
        return label if len(table.get(label, [])) <= 1 else f"{layer.id}:{label}"


class StateBuilder:
    """One annotator's state of one unit, built up from a file's records."""

    def __init__(self, text: str):
        self.text = text
        self.status: str | None = "done"
        self.labels: dict[str, object] = {}
        self.spans: list[dict] = []
        self.relations: list[dict] = []
        self.note: str | None = None
        self.flag = False

    def add_label(self, layer: Layer, label: str) -> str | None:
        """Add a paragraph label; for a single layer, a second, different label is an
        error (returned as a message)."""
        if layer.kind == "single":
            old = self.labels.get(layer.id)
            if old is not None and old != label:
                return (f"layer {layer.id!r} takes one label, but this unit has both "
                        f"{old!r} and {label!r}")
            self.labels[layer.id] = label
        else:
            on = self.labels.setdefault(layer.id, [])
            assert isinstance(on, list)
            if label not in on:
                on.append(label)
        return None

    def add_span(self, layer: Layer, label: str, start: int, end: int,
                 attributes: dict | None = None) -> dict:
        span = {"id": f"s{len(self.spans) + 1}", "layer": layer.id, "label": label,
                "start": start, "end": end, "text": self.text[start:end],
                "attributes": dict(attributes or {})}
        self.spans.append(span)
        return span

    def add_relation(self, label: str, src: str, dst: str) -> None:
        rel = {"label": label, "from": src, "to": dst}
        if rel not in self.relations:
            self.relations.append(rel)

    def state(self) -> dict:
        return {"status": self.status, "labels": self.labels, "spans": self.spans,
                "relations": self.relations, "note": self.note, "flag": self.flag}


@dataclass
class UnitState:
    """One annotator's whole state of one unit, read from a file."""

    doc_id: str
    unit: int
    annotator: str | None  # None: the format names nobody (--as, else the login name)
    state: dict
    source: str  # where it came from, "file:line" (the event's audit trail)


@dataclass
class ImportContext:
    """What a reader gets: the options, the schema, the store (read only: documents
    already imported), and where it reports problems and losses."""

    schema: LabelSchema
    labels: LabelIndex
    loss: LossReport
    project_root: Path
    paragraphs: str
    offsets: str
    store: object  # SQLiteStore; readers only look documents up
    problems: list[Problem] = field(default_factory=list)
    files_read: int = 0

    def problem(self, path: str | Path, line: int, message: str, col: int = 1) -> None:
        self.problems.append(Problem(safe_inline(str(path)), line, col, message))
        if len(self.problems) >= MAX_PROBLEMS:
            self.problems.append(Problem("", 0, 0, f"stopped after {MAX_PROBLEMS} problems"))
            raise InputError(self.problems)

    def stored_document(self, doc_id: str) -> tuple[DocInfo, list[Unit]] | None:
        info = self.store.document(doc_id)  # type: ignore[attr-defined]
        if info is None:
            return None
        return info, self.store.units(doc_id)  # type: ignore[attr-defined]


ReadItem = Document | UnitState


@dataclass
class Ann:
    """One annotator's annotation of one unit, as a writer gets it."""

    annotator: str
    status: str  # "done" or "skipped" (other statuses never reach a writer)
    labels: dict[str, object]  # every paragraph layer: list (multi) or id / None (single)
    spans: list[dict]
    relations: list[dict]
    note: str | None
    flag: bool
    updated_at: str
    seconds: float
    extra: dict = field(default_factory=dict)  # other state keys (gold: decided_by)


@dataclass
class ExportDoc:
    """One document for a writer: its units, and each selected annotator's
    annotations of them (done or skipped units only; stale ones left out)."""

    info: DocInfo
    units: list[Unit]
    anns: dict[str, dict[int, Ann]]  # annotator -> unit index -> annotation

    def unit_text(self, index: int) -> str:
        for u in self.units:
            if u.index == index:
                return u.text
        return ""


@dataclass
class ExportContext:
    schema: LabelSchema
    labels: LabelIndex
    loss: LossReport
    annotators: list[str]  # selected, in order
    offsets: str
    gold: bool = False
    # An export split over processes (formats/split.py) whose format joins the parts
    # itself (SPLIT["inline"]): in the child, `part` is "child"; in this process,
    # `rest()` waits for the child and gives its part's path.
    part: str = ""
    rest: Callable[[], Path] | None = None


DocStream = Iterator[ExportDoc]


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def annotator_name(raw: object) -> str:
    """A name from another tool (an e-mail, a UUID, a number) as a valid journal name."""
    name = _SAFE_NAME.sub("_", clean_text(str(raw))).lstrip("._-")[:64]
    return name or "annotator"


def safe_file_part(text: str) -> str:
    """A document id as a relative file path: no absolute path, no '..', no empty or
    hidden components."""
    parts = []
    for part in text.split("/"):
        part = re.sub(r"[^\w.,+=@-]", "_", part)
        if part in ("", ".", "..") or part.startswith("."):
            part = "_" + part.lstrip(".")
        parts.append(part)
    return "/".join(parts)


def int_value(value: object) -> int | None:
    """An integer from JSON (a bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value
