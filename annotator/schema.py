"""The label schema: layers of labels loaded from YAML and validated.

The dataclasses below are the contract other modules use. Validation runs the JSON
Schema in `schemas/label-schema.schema.json` and then the checks JSON Schema cannot
express (unique ids and hotkeys, relation ends, attribute defaults); every problem is
located at the line and column of the offending node.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import unicodedata
from collections.abc import Iterable
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from annotator import keys as keymap
from annotator.errors import InputError, Problem
from annotator.parse_cache import ParseCache
from annotator.records import record
from annotator.textclean import clean_json

if TYPE_CHECKING:
    from jsonschema import ValidationError

    from annotator.yamlload import Pointer, YamlDocument

LayerKind = Literal["multi", "single", "span"]


@record(frozen=True)
class Attribute:
    """An attribute of a span label, e.g. quote type: direct / indirect."""

    id: str
    name: str
    values: tuple[str, ...]
    key: str | None = None  # hotkey that cycles the value
    default: str | None = None


@record(frozen=True)
class Label:
    """A label of a layer: its id, name, hotkey and (for spans) attributes."""

    id: str
    name: str
    description: str = ""
    key: str | None = None  # Textual key name (see keys.key_name)
    examples: tuple[str, ...] = ()
    attributes: tuple[Attribute, ...] = ()  # span labels only
    category: str | None = None  # grouping from the source taxonomy, if any

    def attribute(self, attribute_id: str) -> Attribute | None:
        for att in self.attributes:
            if att.id == attribute_id:
                return att
        return None


@record(frozen=True)
class Relation:
    """A directed relation between span labels, e.g. quote attributed_to source."""

    id: str
    name: str
    sources: tuple[str, ...]  # span label ids allowed at the `from` end
    targets: tuple[str, ...]  # span label ids allowed at the `to` end
    description: str = ""


@record(frozen=True)
class Layer:
    """A layer of the schema: paragraph labels (single / multi) or spans."""

    id: str
    name: str
    kind: LayerKind
    labels: tuple[Label, ...]
    description: str = ""
    relations: tuple[Relation, ...] = ()
    scale: str = "nominal"  # single layers: nominal | ordinal | interval (labels in order)

    def label(self, label_id: str) -> Label | None:
        return self._labels_by_id.get(label_id)

    # asked once per label of every imported state (a million at a time)
    @functools.cached_property
    def _labels_by_id(self) -> dict[str, Label]:
        found: dict[str, Label] = {}
        for lab in self.labels:
            found.setdefault(lab.id, lab)  # the first, as a scan finds it
        return found


@record(frozen=True)
class LabelSchema:
    """A parsed, validated label schema."""

    id: str
    version: int | str
    title: str
    layers: tuple[Layer, ...]
    guidelines: str | None = None
    sha256: str = ""  # of the file's bytes
    path: Path | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)
    description: str = ""
    source: str | None = None  # citation of the taxonomy
    # Document titles are units to annotate (`titles: false`: context only, not counted
    # in progress nor visited; a project's annotator.yaml may say so too).
    titles: bool = True

    def layer(self, layer_id: str) -> Layer | None:
        for lay in self.layers:
            if lay.id == layer_id:
                return lay
        return None

    # cached: asked once per unit by exports and agreement (a frozen dataclass without
    # slots keeps the value in the instance's __dict__)
    @functools.cached_property
    def paragraph_layers(self) -> tuple[Layer, ...]:
        return tuple(lay for lay in self.layers if lay.kind != "span")

    @functools.cached_property
    def span_layers(self) -> tuple[Layer, ...]:
        return tuple(lay for lay in self.layers if lay.kind == "span")

    def hotkeys(self) -> dict[str, tuple[Layer, Label]]:
        """Textual key name -> (layer, label) for every label with a hotkey."""
        return {lab.key: (lay, lab) for lay in self.layers for lab in lay.labels if lab.key}


# --------------------------------------------------------------------------- locations


def schemas_dir() -> Path:
    """The repo's `schemas/` folder (label schemas and JSON Schemas)."""
    return Path(__file__).resolve().parent.parent / "schemas"


def default_schema_path() -> Path:
    """The default label schema, used when a project names none."""
    return schemas_dir() / "framing-devices.yaml"


@functools.cache
def _validator():
    # jsonschema is imported here, not at module level: it costs ~80 ms, and the
    # annotation screen's start-up skips it for a schema validated before.
    from jsonschema import Draft202012Validator

    meta = json.loads((schemas_dir() / "label-schema.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(meta)


# --------------------------------------------------------------------------- validation


def _where(pointer: Pointer) -> str:
    """`layers[0].labels[2].key` — names the field in messages, next to the line number."""
    out = ""
    for part in pointer:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# Words other tools (or habit) use for a property this format calls otherwise.
_SYNONYMS = {"title": "name", "label": "name", "text": "name", "hotkey": "key",
             "shortcut": "key", "type": "kind", "desc": "description", "help": "description",
             "options": "values", "choices": "values", "source": "from", "target": "to",
             "children": "labels", "tags": "labels", "example": "examples"}


def _typo_targets(errors: list[ValidationError]) -> set[tuple[Pointer, str]]:
    """(mapping, property) pairs where an unknown key looks like a misspelt required one:
    reporting the property as missing too would only repeat the same mistake."""
    out = set()
    for err in errors:
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = list((err.schema.get("properties") or {}).keys())
            for key in err.instance:
                if key not in allowed:
                    hints = difflib.get_close_matches(str(key), allowed, n=1)
                    if not hints and _SYNONYMS.get(str(key)) in allowed:
                        hints = [_SYNONYMS[str(key)]]
                    for hint in hints:
                        out.add((tuple(err.absolute_path), hint))
    return out


def _schema_error_problems(
    doc: YamlDocument, err: ValidationError, typos: set[tuple[Pointer, str]]
) -> list[Problem]:
    if err.validator in ("anyOf", "oneOf") and err.context:
        # `from: quote` or `from: [quote]`: say what is wrong in the form the value has
        # (the deepest sub-error: an item of the list, located at that item)
        from jsonschema.exceptions import best_match

        err = best_match([err])
    pointer: Pointer = tuple(err.absolute_path)
    prefix = f"{_where(pointer)}: " if pointer else ""
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        # Point at each unknown key itself and suggest the likely intended one.
        allowed = sorted((err.schema.get("properties") or {}).keys())
        out = []
        for key in err.instance:
            if key in allowed:
                continue
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            if not hint and _SYNONYMS.get(str(key)) in allowed:
                hint = [_SYNONYMS[str(key)]]  # another tool's word for it
            msg = f"unknown property '{key}'" + (
                f": did you mean '{hint[0]}'?" if hint else f" (allowed: {', '.join(allowed)})"
            )
            out.append(doc.problem(pointer + (key,), prefix + msg))
        return out
    if err.validator == "required":
        missing = [p for p in err.validator_value if repr(p) in err.message]
        if missing and (pointer, missing[0]) in typos:
            return []
        # The property is missing: point at the mapping that should hold it.
        line, col = doc.locate_node(pointer)
        return [Problem(doc.path, line, col, prefix + err.message)]
    if err.validator == "not" and err.validator_value == {}:
        # The layer's `else` branch forbids these on paragraph-level layers.
        what = pointer[-1] if pointer else "this"
        kind = "single" if what == "scale" else "span"
        return [doc.problem(pointer, f"{_where(pointer)}: '{what}' is only allowed on {kind} layers")]
    if err.validator == "pattern" and pointer and pointer[-1] == "key":
        msg = "a hotkey must be a single character or a Textual key name such as 'f5' or 'ctrl+e'"
        return [doc.problem(pointer, f"{prefix}{err.instance!r}: {msg}")]
    if err.validator == "pattern" and pointer and pointer[-1] == "id":
        msg = (
            "ids must be lowercase letters, digits, '_' or '-'"
            if err.schema.get("pattern", "").startswith("^[a-z0-9]")
            else "ids must start with a letter: letters, digits, '_' or '-'"
        )
        return [doc.problem(pointer, f"{prefix}{err.instance!r}: {msg}")]
    return [doc.problem(pointer, prefix + err.message)]


def _items(value: Any) -> list[tuple[int, dict]]:
    """Enumerate the mappings of a list, skipping malformed entries (already reported)."""
    if not isinstance(value, list):
        return []
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)]


_ACTION_OF_KEY = {k: action for action, ks in keymap.DEFAULT_KEYS.items() for k in ks}


def _semantic_problems(doc: YamlDocument) -> list[Problem]:
    """Checks JSON Schema cannot express. Tolerant of malformed structure."""
    data = doc.data if isinstance(doc.data, dict) else {}
    problems: list[Problem] = []
    seen_layers: dict[str, int] = {}
    seen_keys: dict[str, tuple[str, int]] = {}  # key name -> (what uses it, line)

    def check_key(pointer: Pointer, raw: Any, what: str) -> None:
        if not isinstance(raw, str) or not raw:
            return
        name = keymap.key_name(raw)
        line = doc.locate(pointer)[0]
        if len(raw) == 1 and raw not in " \n" and unicodedata.category(raw)[0] in "CMZ":
            # A control, a tab, a separator, a combining mark or a lone surrogate: no
            # key types it (and ESC or a tab would collide with the screen's own keys
            # unnoticed). A newline is already refused by the JSON Schema's pattern.
            problems.append(
                doc.problem(
                    pointer,
                    f"{_where(pointer)}: hotkey {raw!r} of {what} is not a printable "
                    "character: use a letter, a digit or a key name such as 'f5'",
                )
            )
        elif name in keymap.RESERVED_KEYS:
            problems.append(
                doc.problem(
                    pointer,
                    f"{_where(pointer)}: hotkey '{raw}' of {what} is reserved by the annotation "
                    f"screen ({_ACTION_OF_KEY[name]}); free keys include digits and most uppercase "
                    "letters",
                )
            )
        elif name in seen_keys:
            other, other_line = seen_keys[name]
            problems.append(
                doc.problem(
                    pointer,
                    f"{_where(pointer)}: hotkey '{raw}' of {what} is already used by {other} "
                    f"(line {other_line})",
                )
            )
        else:
            seen_keys[name] = (what, line)

    for li, layer in _items(data.get("layers")):
        lp: Pointer = ("layers", li)
        lid = layer.get("id")
        if isinstance(lid, str):
            if lid in seen_layers:
                problems.append(
                    doc.problem(
                        lp + ("id",),
                        f"{_where(lp + ('id',))}: duplicate layer id '{lid}' "
                        f"(first on line {seen_layers[lid]})",
                    )
                )
            else:
                seen_layers[lid] = doc.locate(lp + ("id",))[0]
        seen_labels: dict[str, int] = {}
        for bi, label in _items(layer.get("labels")):
            bp: Pointer = lp + ("labels", bi)
            bid = label.get("id")
            if isinstance(bid, str):
                if bid in seen_labels:
                    problems.append(
                        doc.problem(
                            bp + ("id",),
                            f"{_where(bp + ('id',))}: duplicate label id '{bid}' in layer "
                            f"'{lid}' (first on line {seen_labels[bid]})",
                        )
                    )
                else:
                    seen_labels[bid] = doc.locate(bp + ("id",))[0]
            check_key(bp + ("key",), label.get("key"), f"label '{bid}' in layer '{lid}'")
            seen_atts: set[str] = set()
            for ai, att in _items(label.get("attributes")):
                ap: Pointer = bp + ("attributes", ai)
                aid = att.get("id")
                if isinstance(aid, str):
                    if aid in seen_atts:
                        problems.append(
                            doc.problem(
                                ap + ("id",),
                                f"{_where(ap + ('id',))}: duplicate attribute id '{aid}' on label '{bid}'",
                            )
                        )
                    seen_atts.add(aid)
                check_key(ap + ("key",), att.get("key"), f"attribute '{aid}' of label '{bid}'")
                values = att.get("values")
                if isinstance(values, list):
                    for vi, v in enumerate(values):
                        if v in values[:vi]:
                            problems.append(
                                doc.problem(
                                    ap + ("values", vi),
                                    f"{_where(ap + ('values', vi))}: duplicate value '{v}'",
                                )
                            )
                    default = att.get("default")
                    if default is not None and default not in values:
                        problems.append(
                            doc.problem(
                                ap + ("default",),
                                f"{_where(ap + ('default',))}: default '{default}' is not one of "
                                f"the values {values}",
                            )
                        )
        span_labels = set(seen_labels) if layer.get("kind") == "span" else set()
        seen_rels: set[str] = set()
        for ri, rel in _items(layer.get("relations")):
            rp: Pointer = lp + ("relations", ri)
            rid = rel.get("id")
            if isinstance(rid, str):
                if rid in seen_rels:
                    problems.append(
                        doc.problem(
                            rp + ("id",), f"{_where(rp + ('id',))}: duplicate relation id '{rid}'"
                        )
                    )
                seen_rels.add(rid)
            if layer.get("kind") != "span":
                continue  # reported by the JSON Schema
            for end in ("from", "to"):
                ends = rel.get(end)
                one = isinstance(ends, str)  # `from: quote`
                if one:
                    ends = [ends]
                if not isinstance(ends, list):
                    continue
                for ei, target in enumerate(ends):
                    if isinstance(target, str) and target not in span_labels:
                        ep = rp + ((end,) if one else (end, ei))
                        known = ", ".join(sorted(span_labels)) or "none"
                        problems.append(
                            doc.problem(
                                ep,
                                f"{_where(ep)}: relation '{rid}' names unknown label '{target}' "
                                f"(labels of layer '{lid}': {known})",
                            )
                        )
    return problems


def _problems(doc: YamlDocument) -> list[Problem]:
    """Every problem of a parsed label schema, in file order; [] when it is valid.
    Messages quote the file's keys and values: printing a Problem makes their controls
    visible and cuts long ones (errors.Problem.__str__)."""
    if doc.data is None:
        return [Problem(doc.path, 1, 1,
                        "the file is empty: a label schema needs id, version, title and layers")]
    problems: list[Problem] = []
    errors = list(_validator().iter_errors(doc.data))
    typos = _typo_targets(errors)
    for err in errors:
        problems.extend(_schema_error_problems(doc, err, typos))
    problems.extend(_semantic_problems(doc))
    # Deduplicate and order by position so the output reads top to bottom.
    return sorted(set(problems), key=lambda p: (p.line, p.col, p.message))


def validate_schema_file(path: str | Path) -> list[Problem]:
    """Every problem of a label-schema file, located; [] when valid. Never raises for
    invalid content."""
    try:
        load_schema(path)
    except InputError as exc:
        return exc.problems
    return []


# --------------------------------------------------------------------------- loading


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _name_from_id(ident: str) -> str:
    """A layer's or relation's name when the schema gives none: "attributed_to" ->
    "Attributed to"."""
    words = ident.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else ident


def _ids(value: str | list[str]) -> tuple[str, ...]:
    """`from: quote` as well as `from: [quote]`."""
    return (value,) if isinstance(value, str) else tuple(value)


def _build_schema(data: dict, path: Path, sha256: str) -> LabelSchema:
    # Schema strings are shown on screen: a label name holding ESC must not reach
    # the terminal.
    data = clean_json(data)
    layers = []
    for lay in data["layers"]:
        labels = tuple(
            Label(
                id=lab["id"],
                name=lab["name"],
                description=(lab.get("description") or "").strip(),
                key=keymap.key_name(lab["key"]) if lab.get("key") else None,
                examples=tuple(lab.get("examples") or ()),
                attributes=tuple(
                    Attribute(
                        id=att["id"],
                        name=att["name"],
                        values=tuple(att["values"]),
                        key=keymap.key_name(att["key"]) if att.get("key") else None,
                        default=att.get("default"),
                    )
                    for att in lab.get("attributes") or ()
                ),
                category=_opt_str(lab.get("category")),
            )
            for lab in lay["labels"]
        )
        relations = tuple(
            Relation(
                id=rel["id"],
                name=rel.get("name") or _name_from_id(rel["id"]),
                sources=_ids(rel["from"]),
                targets=_ids(rel["to"]),
                description=(rel.get("description") or "").strip(),
            )
            for rel in lay.get("relations") or ()
        )
        layers.append(
            Layer(
                id=lay["id"],
                name=lay.get("name") or _name_from_id(lay["id"]),
                kind=lay["kind"],
                labels=labels,
                description=(lay.get("description") or "").strip(),
                relations=relations,
                scale=lay.get("scale") or "nominal",
            )
        )
    known = {"$schema", "id", "version", "title", "description", "guidelines", "source",
             "layers", "titles"}
    return LabelSchema(
        id=data["id"],
        version=data["version"],
        title=data["title"],
        layers=tuple(layers),
        guidelines=_opt_str(data.get("guidelines")),
        sha256=sha256,
        path=path,
        extra={k: v for k, v in data.items() if k not in known},
        description=(data.get("description") or "").strip(),
        source=_opt_str(data.get("source")),
        titles=data.get("titles", True) is not False,
    )


def load_schema(path: str | Path, cache: ParseCache | None = None) -> LabelSchema:
    """Load and validate a label schema; raises errors.InputError with located problems.

    With a `cache`, a file whose exact bytes validated before is rebuilt from its cached
    parse: no YAML parser and no JSON Schema pass at start-up."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(Problem(str(path), 0, 0,
                                 f"cannot read file: {exc.strerror or exc}")) from None
    data = cache.get(raw) if cache is not None else None
    if data is not None:
        return _build_schema(data, Path(path), hashlib.sha256(raw).hexdigest())
    from annotator.yamlload import load_yaml_bytes  # here: start-up may skip YAML

    return _validated(load_yaml_bytes(raw, str(path)), raw, Path(path), cache)


def _validated(doc: YamlDocument, raw: bytes, path: Path,
               cache: ParseCache | None = None) -> LabelSchema:
    """The schema of a parsed file (`raw` its bytes); InputError when it is invalid."""
    problems = _problems(doc)
    if problems:
        raise InputError(problems)
    if cache is not None:
        cache.put(raw, doc.data)
    return _build_schema(doc.data, path, hashlib.sha256(raw).hexdigest())


def find_schema(
    schema_id: str,
    search_dirs: Iterable[str | Path],
    version: int | str | None = None,
    cache: ParseCache | None = None,
) -> LabelSchema | None:
    """The first label schema among `DIR/*.yaml` whose `id` is schema_id (and whose
    version is `version`, when given); None when there is none. Files that do not parse
    are skipped: they cannot be the schema an export names. With a `cache` (as
    `load_schema`), a file whose exact bytes validated before is read from its cached
    parse: no YAML parser and no jsonschema import on `agreement`'s path."""
    for d in search_dirs:
        for candidate in sorted(Path(d).glob("*.yaml")):
            try:
                raw = candidate.read_bytes()
            except OSError:
                continue
            data = cache.get(raw) if cache is not None else None
            if data is not None:  # validated before: its id and version are known good
                if data.get("id") == schema_id and (
                        version is None or str(data.get("version")) == str(version)):
                    return _build_schema(data, candidate, hashlib.sha256(raw).hexdigest())
                continue
            from annotator.yamlload import load_yaml_bytes

            try:
                doc = load_yaml_bytes(raw, str(candidate))
            except InputError:
                continue
            data = doc.data
            if not isinstance(data, dict) or data.get("id") != schema_id:
                continue
            if version is None or str(data.get("version")) == str(version):
                return _validated(doc, raw, candidate, cache)
    return None
