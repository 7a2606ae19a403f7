"""`annotator validate`: label schemas, `annotator.yaml` and export files; and the one
reader of export files that `annotator agreement` uses too.

An export is read by `read_export`, line by line: each line against its record JSON
Schema (`schemas/export-record.schema.json` for our exports,
`schemas/interchange-record.schema.json` for another tool's records, which name no
schema), then against the label schema the records name: layers and labels exist,
span offsets lie inside the text and `text[start:end]` equals the span's text,
relations join spans of the same annotation, every unit and every annotator of a
unit appears once, the records name one schema whose sha256 is the file found, and
no two annotator names differ only by case or Unicode normalisation. `validate`
prints what it finds; `agreement` refuses a file with any of it, with the same
messages, and otherwise takes the ratings from the same pass.

The JSON Schema files are the single source of truth. Each is compiled to msgspec
types (`jsonl.compile_record_schema`), so a line is parsed and its shape checked in
one C pass; a line the compiled type refuses is parsed again strictly and checked by
jsonschema, which words the message. The compiled type accepts a subset of what the
JSON Schema accepts (tests/test_validate_fast.py checks it on generated records), so
the fast path changes what is accepted by nothing, and messages by nothing.
"""

from __future__ import annotations

import bisect
import gc
import json
import operator
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, chain, compress, islice, repeat
from pathlib import Path
from typing import Any

import msgspec

from annotator.errors import InputError, Problem
from annotator.jsonl import (
    MAX_DEPTH,
    CompiledRecord,
    Unsupported,
    compile_record_schema,
    iter_raw_lines,
    open_depth,
    parse_line,
    too_deep_maybe,
)
from annotator.schema import LabelSchema, find_schema, load_schema, schemas_dir

EXPORT_RECORD = "export-record.schema.json"
INTERCHANGE_RECORD = "interchange-record.schema.json"
# The checks the compiled types leave to us, as jsonl.compile_record_schema names them.
_RESIDUAL = frozenset({(("annotations", "*", "labels", "*"), "uniqueItems"),
                       (("gold", "labels", "*"), "uniqueItems")})  # _gold_problems


class RecordChecker:
    """One record JSON Schema: `check(raw line)` -> (record, []) or (None, problems)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.json_schema = json.loads((schemas_dir() / name).read_text(encoding="utf-8"))
        self._validator = None
        self.compiled: CompiledRecord | None
        try:
            self.compiled = compile_record_schema(self.json_schema)
        except Unsupported:
            self.compiled = None
        if self.compiled is not None and self.compiled.residual != _RESIDUAL:
            self.compiled = None  # a check this reader does not make: jsonschema alone
        import msgspec

        self._errors = (msgspec.DecodeError, msgspec.ValidationError)

    @property
    def validator(self) -> Any:
        """jsonschema's validator, imported only when a line needs it (~0.1 s)."""
        if self._validator is None:
            from jsonschema import Draft202012Validator

            self._validator = Draft202012Validator(self.json_schema)
        return self._validator

    def fast(self, raw: bytes) -> Any | None:
        """The record as the compiled type, or None when it refuses the line (it may
        still be valid: `slow` decides)."""
        if self.compiled is None or too_deep_maybe(raw):
            return None
        try:
            return self.compiled.decoder.decode(raw)
        except self._errors:
            return None

    def slow(self, raw: bytes, spath: str, lineno: int, start: int) -> tuple[Any, list[Problem]]:
        """Strict parse + jsonschema: the record, or the line's located problems."""
        obj = parse_line(raw, spath, lineno, start)
        if isinstance(obj, Problem):
            return None, [obj]
        errors = list(self.validator.iter_errors(obj))
        if errors:
            return None, [Problem(spath, lineno, 1, _message(e)) for e in errors[:5]]
        if self.compiled is None:
            return _Rec(obj), []
        import msgspec

        # Valid by the JSON Schema but refused by the compiled type: e.g. `1.0` for an
        # integer, which JSON Schema counts as one; the lax conversion keeps the value.
        try:
            return msgspec.convert(obj, self.compiled.struct, strict=False), []
        except msgspec.ValidationError:
            return _Rec(obj), []

    def check(self, raw: bytes, spath: str, lineno: int, start: int = 0
              ) -> tuple[Any, list[Problem]]:
        rec = self.fast(raw)
        if rec is not None:
            return rec, []
        return self.slow(raw, spath, lineno, start)


class _Rec:
    """Attribute access to a record dict (when no compiled type is in use), with the
    compiled types' renaming (`from` -> `from_`) and None for absent keys."""

    __slots__ = ("_d",)

    def __init__(self, d: dict) -> None:
        self._d = d

    def __getattr__(self, name: str) -> Any:
        value = self._d.get(name[:-1] if name.endswith("_") else name)
        if isinstance(value, dict) and name not in ("labels", "meta", "attributes"):
            return _Rec(value)
        if isinstance(value, list) and name in ("annotations", "spans", "relations"):
            return [_Rec(v) for v in value]
        return value


@lru_cache(maxsize=2)
def record_checker(name: str = EXPORT_RECORD) -> RecordChecker:
    return RecordChecker(name)


def _message(err) -> str:
    where = "/".join(str(p) for p in err.absolute_path)
    return f"{where}: {err.message}" if where else err.message


def validate_file(path: Path, schema: str | Path | None = None,
                  project_dir: str | Path | None = None) -> list[Problem]:
    """Every problem of one file, located. Messages quote the file's keys and values
    (an annotator name, a label id): printing a Problem makes their controls visible
    and cuts long ones (errors.Problem.__str__). Warnings (`read_export`) are not
    problems: `validate_file_with_warnings` gives both."""
    return validate_file_with_warnings(path, schema, project_dir)[0]


def validate_file_with_warnings(path: Path, schema: str | Path | None = None,
                                project_dir: str | Path | None = None,
                                progress: Callable[[int, int], None] | None = None,
                                ) -> tuple[list[Problem], list[Problem]]:
    if not path.exists():
        return [Problem(str(path), 0, 0, "no such file")], []
    if not path.is_file():  # a FIFO would hang the read; a directory is no file
        return [Problem(str(path), 0, 0, "not a regular file (a directory, FIFO or device): "
                                         "not read")], []
    if path.name == "annotator.yaml":
        from annotator.project import validate_config_file

        return validate_config_file(path), []
    if path.suffix in (".yaml", ".yml"):
        from annotator.schema import validate_schema_file

        return validate_schema_file(path), []
    if path.suffix == ".jsonl":
        read = read_export(path, schema, project_dir, progress=progress)
        return read.problems, read.warnings
    return [Problem(str(path), 0, 0, "cannot validate this kind of file: expected a label "
                                     "schema (.yaml), annotator.yaml or an export (.jsonl)")], []


def validate_export(path: Path, schema: str | Path | None = None,
                    project_dir: str | Path | None = None) -> list[Problem]:
    return read_export(path, schema, project_dir).problems


def schema_for_export(ref: dict, project_dir: str | Path | None = None
                      ) -> LabelSchema | None:
    """The label schema an export record names ({"id", "version"}), from the project's
    `schemas/` or the shipped ones; None unless that exact version is there."""
    from annotator.parse_cache import user_parse_cache

    root = Path(project_dir) if project_dir else Path.cwd()
    return find_schema(ref["id"], [root / "schemas", schemas_dir()], ref["version"],
                       user_parse_cache("schema"))


# ---------------------------------------------------------------- the reader


_BATCH = 64  # lines decoded, then checked column by column (measured: 16-64 fastest)
_MISSING = object()
_EMPTY: dict = {}
_SCHEMA = operator.attrgetter("schema")
_DOC = operator.attrgetter("doc_id")
_PARAGRAPH = operator.attrgetter("paragraph")
_TEXT = operator.attrgetter("text")
_ANNOTATIONS = operator.attrgetter("annotations")
_ANNOTATOR = operator.attrgetter("annotator")
_LABELS = operator.attrgetter("labels")
_SPANS = operator.attrgetter("spans")
_RELATIONS = operator.attrgetter("relations")
_STATUS = operator.attrgetter("status")


def _length(text: str | None) -> int | None:
    return None if text is None else len(text)


class _Columns:
    """Columns nobody reads (validate): the reader's loop is the same either way. With
    `coded`, the (layer, value) codes as RatingsCollector gives them (a range read in
    another process for agreement, `annotator.read_split`)."""

    ratings = False  # no ratings are made of these: a join leaves their columns out

    def __init__(self, coded: bool = False) -> None:
        self.values: dict[tuple[object, object], int] | None = {} if coded else None
        self.unit_keys: list = []
        self.unit_lengths: list = []
        self.first_ann: list[int] = []
        self.ann_name: list = []
        self.lab_ann: list[int] = []
        self.lab_code: list[int] = []
        self.span_anns: list = []
        self.not_done: list[int] = []
        self.skipped: list[int] = []
        self.decided: list = []

    def value_code(self, layer: object, key: object) -> int:
        if self.values is None:
            return 0
        return self.values.setdefault((layer, key), len(self.values))


@dataclass
class ExportRead:
    """What reading an export found: its located problems (refuse the file when there
    are any), warnings, the label schema its records are checked against, and the
    annotator names to merge (only with merge_names)."""

    path: Path
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    schema: LabelSchema | None = None
    record_schema: str = EXPORT_RECORD
    records: int = 0
    rename: dict[str, str] = field(default_factory=dict)
    processes: int = 1  # that read the file (annotator.read_split)


def _ref_key(ref: Any) -> tuple[str, str, str] | None:
    if ref is None:
        return None
    return (ref.id, str(ref.version), ref.sha256 or "")


def _name_key(name: str) -> str:
    """Names that differ only by case or Unicode normalisation share this key."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFC", name).casefold())


def _show(name: str) -> str:
    return repr(name) if name.isascii() else f"{name!r} ({ascii(name)})"


def read_export(path: Path, schema: str | Path | LabelSchema | None = None,
                project_dir: str | Path | None = None, sink: Any = None,
                merge_names: bool = False,
                progress: Callable[[int, int], None] | None = None) -> ExportRead:
    """Read and check an export file in one pass (see the module's docstring), a large
    one split over two processes (`annotator.read_split`: the same result). With a
    `sink` (agreement's RatingsCollector) the loop fills its columns as it goes. Never
    raises for bad content: every problem is in the result, located by line."""
    spath = str(path)
    out = ExportRead(path)
    if not path.is_file():
        out.problems.append(Problem(spath, 0, 0, "no such export file"))
        return out
    given = load_schema(schema) if isinstance(schema, str | Path) else schema
    total = path.stat().st_size
    record_schema = first_record_schema(path)
    if record_schema is None:
        out.schema = given
        return out
    out.record_schema = record_schema
    # The columns: the sink's own (agreement), or throw-away ones (validate).
    reader = ExportReader(path, record_checker(out.record_schema), given, project_dir,
                          sink if sink is not None else _Columns())
    from annotator.read_split import read_all

    was_enabled = gc.isenabled()
    gc.disable()  # millions of small objects and no cycles: collections only cost time
    try:
        out.processes = read_all(reader, total, progress)
        reader.finish(out, merge_names)
    finally:
        if was_enabled:
            gc.enable()
    if progress is not None:
        progress(total, total)
    return out


def first_record_schema(path: Path) -> str | None:
    """The record JSON Schema an export's lines are checked against, from its first
    line: another tool's records name no label schema. None: no line."""
    lines = iter_raw_lines(path)
    try:
        first = next(lines, None)
    finally:
        lines.close()
    if first is None:
        return None
    obj = parse_line(first[2], str(path), first[0], first[1])
    return INTERCHANGE_RECORD if isinstance(obj, dict) and "schema" not in obj \
        else EXPORT_RECORD


class ExportReader:
    """The checks of each record of an export, and the columns collected, over the file
    or over a range of its lines (`read`); what the checks across records need is kept
    for `finish`. A range read after another numbers its lines after the first's: two
    ranges read by one reader give what one pass gives (`annotator.read_split` reads
    the second in another process and joins it with `read_split.join`)."""

    def __init__(self, path: Path, checker: RecordChecker, given: LabelSchema | None,
                 project_dir: str | Path | None, col: Any) -> None:
        self.path = path
        self.spath = str(path)
        self.checker = checker
        self.given = given
        self.project_dir = project_dir
        self.col = col
        self.problems: list[tuple[int, Problem]] = []  # (line, problem), sorted at the end
        # ref -> [first line, records], and the label schema each ref names
        self.refs: dict[tuple[str, str, str] | None, list[int]] = {}
        self.resolved: dict[tuple[str, str, str] | None, LabelSchema | None] = {}
        # every record's unit key and line, checked for repeats once after the loop (a
        # set of them), not per batch against a growing dict
        self.all_keys: list[tuple[str, int]] = []
        self.all_lines: list[int] = []
        self.replaced: set[int] = set()  # lines whose messages jsonschema's replaced
        self.names: dict[str, str] = {}  # each annotator name, one string object for all
        self.doc_ids: dict[str, str] = {}  # the same for document ids
        self.rec_lines: list[int] = []  # per record collected: its line
        self.codes: dict[str, dict[str, int]] = {}  # layer -> value key -> value code
        # layer -> value key -> problems
        self.flawed: dict[str, dict[str, tuple[list[str], bool]]] = {}
        self.last_ref: list[Any] = [object(), True]  # the last schema named; skip it?
        self.records = 0
        # (distinct annotator names, each annotation's code) when a join computed them
        self.ann_codes: tuple[list, Any] | None = None
        self.lines = 0  # lines read: the next range's first line is lines + 1
        self.offset = 0  # the byte where the next range starts

    def resolve(self, key: tuple[str, str, str] | None) -> LabelSchema | None:
        if self.given is not None:
            return self.given
        if key is None:
            return None
        return schema_for_export({"id": key[0], "version": key[1]}, self.project_dir)

    def first_found(self) -> tuple[str, str, str] | None:
        """The first schema named that was found: the one records are checked against."""
        return next((k for k, s in self.resolved.items() if s is not None), None)

    def bad(self, lineno: int, msg: str) -> None:
        self.problems.append((lineno, Problem(self.spath, lineno, 1, msg)))

    def line_and_index(self, i: int) -> tuple[int, int]:
        """The line of global annotation i, and its index in the record."""
        first_ann = self.col.first_ann
        r = bisect.bisect_right(first_ann, i) - 1
        return self.rec_lines[r], i - first_ann[r]

    def batch_records(self, batch: list[tuple[int, int, bytes]]) -> tuple[list, list[int]]:
        checker, spath, problems = self.checker, self.spath, self.problems
        recs, lns = [], []
        for lineno, start, raw in batch:
            rec = checker.fast(raw)
            if rec is None:
                rec, probs = checker.slow(raw, spath, lineno, start)
                if probs:
                    problems.extend((lineno, p) for p in probs)
                    continue
            recs.append(rec)
            lns.append(lineno)
        return recs, lns

    def keep_named(self, recs: list, lns: list[int]) -> tuple[list, list[int]]:
        """Records whose label schema is known; the schemas named, counted."""
        refs, resolved, last_ref, given = self.refs, self.resolved, self.last_ref, self.given
        refs_here = list(map(_SCHEMA, recs))
        if refs_here and all(map(operator.eq, refs_here, repeat(last_ref[0]))):
            refs[_ref_key(last_ref[0])][1] += len(recs)
            return ([], []) if last_ref[1] else (recs, lns)
        kept, kept_lns = [], []
        for rec, ln, ref in zip(recs, lns, refs_here, strict=True):
            if ref != last_ref[0]:
                rkey = _ref_key(ref)
                if rkey not in refs:
                    refs[rkey] = [ln, 0]
                    resolved[rkey] = self.resolve(rkey)
                found = resolved[rkey]
                last_ref[:] = [ref, found is None or (given is not None and ref is not None
                                                      and ref.id != given.id)]
            refs[_ref_key(ref)][1] += 1
            if not last_ref[1]:
                kept.append(rec)
                kept_lns.append(ln)
        return kept, kept_lns

    def check_units(self) -> bool:
        """Whether no unit is exported twice; a located problem for each repeat."""
        all_keys = self.all_keys
        if len(set(all_keys)) == len(all_keys):
            return True
        seen: dict[tuple[str, int], int] = {}
        found = []
        for key, ln in zip(all_keys, self.all_lines, strict=True):
            if key in seen:
                if ln not in self.replaced:
                    found.append((ln, Problem(
                        self.spath, ln, 1, f"unit {key[0]!r} paragraph {key[1]} already "
                                           f"exported at line {seen[key]}")))
            else:
                seen[key] = ln
        # first among each line's messages, as when they were found in the loop
        self.problems[:0] = found
        return False

    def check_labels(self, labels: list, g: int, label_schema: LabelSchema) -> set[int]:
        """Fill the label columns; problems located; the lines with a repeated label."""
        col = self.col
        again: set[int] = set()
        # The usual case: every annotation labels the first one's layers and no other
        # (as many keys in all as that, and each layer found in each): one itemgetter
        # pass per layer, no set of the layers (measured: 0.09 s of 200,000 records).
        first = labels[0] if labels else _EMPTY
        per_layer = None
        if sum(map(len, labels)) == len(labels) * len(first):
            try:
                per_layer = [(layer, list(map(operator.itemgetter(layer), labels)))
                             for layer in first]
            except KeyError:
                per_layer = None
        complete = per_layer is not None
        if per_layer is None:
            per_layer = [(layer, list(map(operator.methodcaller("get", layer, _MISSING),
                                          labels)))
                         for layer in dict.fromkeys(chain.from_iterable(labels))]
        for layer, values in per_layer:
            if not complete and _MISSING in values:
                idx = list(compress(range(g, g + len(values)),
                                    map(operator.is_not, values, repeat(_MISSING))))
                values = [v for v in values if v is not _MISSING]
            else:
                idx = range(g, g + len(values))
            types = set(map(type, values))
            if types == {list}:  # a multi layer: its lists as tuples
                reprs = list(map(tuple, values))
            elif list not in types:  # a single layer: the label ids (and None) themselves
                reprs = values
            else:  # lists and strings mixed (an error): keys apart from both
                reprs = [(None, repr(v)) for v in values]
            known = self.codes.setdefault(layer, {})
            bad_here = self.flawed.setdefault(layer, {})
            try:
                col.lab_code.extend(map(known.__getitem__, reprs))
            except KeyError:
                pass  # a value not seen before: decoded below, then the codes again
            else:
                col.lab_ann.extend(idx)
                if bad_here and not bad_here.keys().isdisjoint(reprs):
                    self.locate(idx, reprs, bad_here, again)
                continue
            del col.lab_code[len(col.lab_ann):]
            new = set(reprs) - known.keys()
            first_of = dict(zip(reversed(reprs), reversed(values), strict=True))
            for key in new:
                value = first_of[key]
                found = _label_problems(layer, value, label_schema)
                if found is not _VALID:
                    bad_here[key] = found
                known[key] = col.value_code(layer, tuple(value) if type(value) is list
                                            else value)
            col.lab_ann.extend(idx)
            col.lab_code.extend(map(known.__getitem__, reprs))
            if bad_here and not bad_here.keys().isdisjoint(reprs):
                self.locate(idx, reprs, bad_here, again)
        return again

    def locate(self, idx: Any, reprs: list, bad_here: dict, again: set[int]) -> None:
        """The located messages of the flawed values among these annotations."""
        for i, key in zip(idx, reprs, strict=True):
            found = bad_here.get(key)
            if found is None:
                continue
            line, k = self.line_and_index(i)
            if found[1]:
                again.add(line)
            who = self.col.ann_name[i]
            for msg in found[0]:
                self.bad(line, f"annotations/{k} ({who}): {msg}")

    def take(self, recs: list, lns: Sequence[int], raw_of: Callable[[int], tuple[int, bytes]]
             ) -> None:
        """Check and collect the records of one chunk (`raw_of(line)`: its offset and
        bytes, for a line whose messages jsonschema must word)."""
        col, doc_ids, names, bad = self.col, self.doc_ids, self.names, self.bad
        self.records += len(recs)
        # a document's id as one string object for all its paragraphs (setdefault by
        # map: one C pass), so each record's own copy is freed with its batch
        ids = list(map(_DOC, recs))
        keys = list(zip(map(doc_ids.setdefault, ids, ids), map(_PARAGRAPH, recs), strict=True))
        self.all_keys.extend(keys)
        self.all_lines.extend(lns)
        n_all = len(recs)
        recs, lns = self.keep_named(recs, lns)
        if not recs:
            return
        if len(recs) < n_all:  # some name another schema: their keys are not collected
            ids = list(map(_DOC, recs))
            keys = list(zip(map(doc_ids.setdefault, ids, ids), map(_PARAGRAPH, recs),
                            strict=True))
        # (records naming two schemas are an error, reported below: the first's here)
        label_schema = self.given or next(s for s in self.resolved.values() if s is not None)
        # Each pass below is one C-level map over the batch; passes whose result is
        # usually empty (spans, statuses, decided, gold) only test, and build lists
        # when they find something.
        texts = list(map(_TEXT, recs))
        anns = list(map(_ANNOTATIONS, recs))
        g = len(col.ann_name)
        col.unit_keys.extend(keys)
        try:
            col.unit_lengths.extend(map(len, texts))
        except TypeError:  # a record without its text (another tool's converter)
            del col.unit_lengths[len(col.unit_keys) - len(keys):]
            col.unit_lengths.extend(map(_length, texts))
        col.first_ann.extend(accumulate(map(len, anns[:-1]), initial=g))
        self.rec_lines.extend(lns)
        all_anns = list(chain.from_iterable(anns))
        # the names as one object each: the batch's copies are freed with it (measured:
        # ~0.1 s of 200,000 records kept alive otherwise)
        n_named = len(col.ann_name)
        try:
            col.ann_name.extend(map(names.__getitem__, map(_ANNOTATOR, all_anns)))
        except KeyError:
            del col.ann_name[n_named:]
            col.ann_name.extend(names.setdefault(a, a) for a in map(_ANNOTATOR, all_anns))
        labels = list(map(_LABELS, all_anns))
        if None in labels:  # an interchange record's annotation without labels
            labels = [x if x is not None else _EMPTY for x in labels]
        again = self.check_labels(labels, g, label_schema)
        if any(map(_SPANS, all_anns)) or any(map(_RELATIONS, all_anns)):
            spans = list(map(_SPANS, all_anns))
            relations = list(map(_RELATIONS, all_anns))
            local_first = list(accumulate(map(len, anns[:-1]), initial=0))
            for k in compress(range(len(all_anns)), map(operator.or_, map(bool, spans),
                                                        map(bool, relations))):  # noqa: B905
                ann, i = all_anns[k], g + k
                sp, rel = _plain(spans[k]), _plain(relations[k])
                line, local = self.line_and_index(i)
                text = texts[bisect.bisect_right(local_first, k) - 1]
                base = ann.original_text if ann.stale else text
                for msg in _span_problems(sp, rel, text if base is None else base,
                                          label_schema):
                    bad(line, f"annotations/{local} ({ann.annotator}): {msg}")
                col.span_anns.append((i, sp, rel))
        if not set(map(_STATUS, all_anns)) <= _DONE:
            col.not_done.extend(g + k for k, st in enumerate(map(_STATUS, all_anns))
                                if st not in _DONE)
            col.skipped.extend(g + k for k, st in enumerate(map(_STATUS, all_anns))
                               if st == "skipped")
        if _any_attr(all_anns, "decided"):  # only these layers are rated on the unit
            col.decided.extend((g + k, d) for k, d in enumerate(_attrs(all_anns, "decided"))
                               if isinstance(d, list))
        golds = _attrs(recs, "gold") if _any_attr(recs, "gold") else ()
        for rec, line, gold in compress(zip(recs, lns, golds), golds):  # noqa: B905
            if gold is not msgspec.UNSET:
                plain = msgspec.to_builtins(rec) if isinstance(rec, msgspec.Struct) \
                    else rec._d
                for msg in _gold_problems(plain, label_schema):
                    bad(line, msg)
        problems = self.problems
        for line in again:
            # A repeated label: the JSON Schema's `uniqueItems`, which the compiled
            # type leaves to us. The line's messages are then jsonschema's.
            problems[:] = [lp for lp in problems if lp[0] != line]
            self.replaced.add(line)
            start, raw = raw_of(line)
            problems.extend((line, p) for p in self.checker.slow(raw, self.spath, line,
                                                                 start)[1])

    def read(self, end: int, progress: Callable[[int, int], None] | None = None,
             total: int = 0) -> None:
        """Read and check the lines from `self.offset` to byte `end` (a line's start,
        or the end of the file)."""
        pos = [self.lines + 1, self.offset]
        was_enabled = gc.isenabled()
        gc.disable()  # millions of small objects and no cycles: collections only cost time
        try:
            for lns, recs, raw_of in _decoded_batches(self.path, self.checker,
                                                      self.batch_records, progress, total,
                                                      pos, end):
                self.take(recs, lns, raw_of)
        finally:
            if was_enabled:
                gc.enable()
        self.lines, self.offset = pos[0] - 1, pos[1]

    def finish(self, out: ExportRead, merge_names: bool) -> None:
        """The checks across records, once every range is read; the result in `out`."""
        col, problems = self.col, self.problems
        out.records = self.records
        found = _annotator_problems(out, col.ann_name, col.first_ann, self.rec_lines,
                                    merge_names, problems, self.ann_codes)
        col.units_unique = self.check_units()
        col.annotator_codes = found[:2] if found else None
        # each (unit, annotator) once: no unit twice, no record naming an annotator twice
        col.pairs_unique = col.units_unique and not (found and found[2])
        _schema_problems(out, self.refs, self.resolved, self.given, problems)
        out.schema = self.given if self.given is not None else next(
            (s for s in self.resolved.values() if s is not None), None)
        problems.sort(key=lambda lp: lp[0])
        out.problems = [p for _, p in problems]


def _any_attr(objs: list, name: str) -> bool:
    """Whether attribute `name` is truthy on any of these (absent: no)."""
    try:
        return any(map(operator.attrgetter(name), objs))
    except AttributeError:
        return any(getattr(o, name, None) for o in objs)


def _attrs(objs: list, name: str) -> list:
    """Attribute `name` of each record or annotation (None where absent)."""
    try:
        return list(map(operator.attrgetter(name), objs))
    except AttributeError:
        return [getattr(o, name, None) for o in objs]


def _decoded_batches(path: Path, checker: RecordChecker, by_line: Callable,
                     progress: Callable[[int, int], None] | None, total: int,
                     pos: list[int], end: int,
                     ) -> Iterator[tuple[Sequence[int], list, Callable[[int], tuple[int, bytes]]]]:
    """(line numbers, records, raw_of) per batch of _BATCH lines. A batch of lines that
    are not blank is decoded by the compiled type, a line at a time (measured: faster
    than one call per chunk, whose records outgrow the CPU caches), and its depth
    checked where the types leave values open (jsonl.open_depth). Any other batch goes
    line by line through `by_line`: the compiled type, and jsonschema for the lines
    it refuses, which words their messages. `raw_of(line)`: (offset, bytes).

    The lines from `pos` ([first line number, its byte offset]) to byte `end`, a line's
    start; `pos` is left where the range ends."""
    compiled = checker.compiled
    decode = compiled.decoder.decode if compiled is not None else None
    errors = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)
    lineno, offset = pos
    # a 64 KB buffer: fewer reads than the default 8 KB for lines of ~1 KB (measured:
    # 0.06 s instead of 0.10 s to split 197 MB into lines)
    with open(path, "rb", buffering=1 << 16) as fh:
        fh.seek(offset)
        while offset < end:
            lines = list(islice(fh, _BATCH))
            if not lines:
                break
            first, start = lineno, offset
            size = sum(map(len, lines))
            if offset + size > end:  # the range ends inside this batch
                ends = list(accumulate(map(len, lines), initial=offset))
                del lines[bisect.bisect_left(ends, end):]
                size = sum(map(len, lines))
            lineno += len(lines)
            offset += size
            pos[:] = [lineno, offset]
            if start == 0 and lines[0].startswith(b"\xef\xbb\xbf"):
                lines[0], start = lines[0][3:], start + 3
            if progress is not None:
                progress(start, total)

            def raw_of(line: int, _lines: list = lines, _first: int = first,
                       _start: int = start) -> tuple[int, bytes]:
                k = line - _first
                return _start + sum(map(len, _lines[:k])), _lines[k]

            recs = None
            if decode is not None and not any(map(bytes.isspace, lines)):
                try:
                    recs = list(map(decode, lines))
                except errors:
                    recs = None
                else:
                    if any(open_depth(recs, p) > MAX_DEPTH for p in compiled.open_paths):
                        recs = None
            if recs is not None:
                yield range(first, first + len(lines)), recs, raw_of
                continue
            numbered, here = [], start
            for k, raw in enumerate(lines):
                if raw.strip():
                    numbered.append((first + k, here, raw))
                here += len(raw)
            recs, lns = by_line(numbered)
            yield lns, recs, raw_of


def _plain(items: Any) -> list[dict]:
    """Spans or relations as export-record dicts (the compiled types give Structs)."""
    if not items:
        return []
    first = items[0]
    if isinstance(first, dict):
        return list(items)
    if isinstance(first, _Rec):
        return [i._d for i in items]
    import msgspec

    return [{k: v for k, v in msgspec.to_builtins(i).items() if v is not None} for i in items]


def _schema_problems(out: ExportRead, refs: dict, resolved: dict,
                     given: LabelSchema | None, problems: list) -> None:
    """Problems and warnings about the schema the records name, one per schema named
    (at the first line naming it), not one per record."""
    spath = str(out.path)

    def more(n: int) -> str:
        return f" (and {n - 1:,} more record(s))" if n > 1 else ""

    first_key = None
    for key, (line, n) in refs.items():
        def bad(msg: str, _line: int = line) -> None:
            problems.append((_line, Problem(spath, _line, 1, msg)))

        if key is None:
            if given is None:
                bad("the records name no label schema (no 'schema' field: not an annotator "
                    f"export): give it with --schema{more(n)}")
            continue
        sid, version, sha = key
        if first_key is None:
            first_key = key
        elif (sid, version) != first_key[:2] or (sha and first_key[2] and sha != first_key[2]):
            bad(f"record names schema {sid!r} version {version}, but line {refs[first_key][0]} "
                f"names {first_key[0]!r} version {first_key[1]}: an export holds the records "
                f"of one schema{more(n)}")
            continue
        if given is not None:
            if sid != given.id:
                bad(f"record names schema {sid!r} but --schema is {given.id!r}{more(n)}")
            elif version != str(given.version) or (sha and sha != given.sha256):
                out.warnings.append(Problem(
                    spath, line, 1,
                    f"warning: record names schema {sid!r} version {version}"
                    + (f" sha256 {sha[:12]}…" if sha else "")
                    + f", but --schema is version {given.version} sha256 {given.sha256[:12]}…: "
                    "checked and counted against the schema given"))
            continue
        found = resolved.get(key)
        if found is None:
            bad(f"schema {sid!r} version {version} not found in the project's schemas/: give "
                f"it with --schema{more(n)}")
        elif sha and sha != found.sha256:
            bad(f"record names schema {sid!r} version {version} with sha256 {sha[:12]}…, but "
                f"{found.path} has sha256 {found.sha256[:12]}…: the schema file changed since "
                "this export was made; give the one it was made with via --schema (and give a "
                f"changed schema a new version){more(n)}")


def _annotator_problems(out: ExportRead, names: list, first_ann: Sequence[int],
                        rec_lines: list[int], merge: bool, problems: list,
                        coded: tuple[list, Any] | None = None,
                        ) -> tuple[list, Any, bool] | None:
    """Two annotations by one annotator in a record; annotator names that differ only
    by case or Unicode normalisation (an error, or with `merge` one annotator, the name
    seen first, said in a warning). Found from the columns after the loop. Returns
    (distinct names in order of appearance, each annotation's index among them, whether
    some record names an annotator twice), or None without annotations."""
    spath = str(out.path)
    n = len(names)
    if not n:
        return None
    import numpy as np

    # the distinct names in order of appearance, each annotation's index among them:
    # returned for RatingsCollector._index, which would otherwise compute them again
    if coded is not None and len(coded[1]) == n:  # (read_split.join)
        distinct, code = coded
    else:
        distinct = list(dict.fromkeys(names))
        index = {name: k for k, name in enumerate(distinct)}
        code = np.fromiter(map(index.__getitem__, names), np.int64, n)
    # codes run 0, 1, ... in order of appearance: each first shows where a code
    # exceeds every code before it
    first_at = np.flatnonzero(code > np.maximum.accumulate(np.concatenate(([-1], code[:-1]))))
    first_index = dict(zip(distinct, first_at.tolist(), strict=True))

    def line_of(i: int) -> int:
        return rec_lines[bisect.bisect_right(first_ann, i) - 1]

    starts = np.asarray(first_ann, np.int64)
    rec = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, n)))
    pair = rec * len(distinct) + code  # (record, annotator): a record names one twice?
    slots = len(starts) * len(distinct)
    twice = (np.bincount(pair, minlength=slots).max(initial=0) > 1 if slots <= 4 * n + 1024
             else len(np.unique(pair)) < n)
    if twice:
        for r, g in enumerate(first_ann):
            end = first_ann[r + 1] if r + 1 < len(first_ann) else n
            here: dict[str, int] = {}
            for i in range(g, end):
                name = names[i]
                if name in here:
                    problems.append((rec_lines[r], Problem(
                        spath, rec_lines[r], 1,
                        f"annotations/{i - g} ({name}): a second annotation by {name!r} on "
                        f"this unit (the first is annotations/{here[name]})")))
                else:
                    here[name] = i - g
    groups: dict[str, list[str]] = {}
    for name in distinct:  # in order of first appearance
        groups.setdefault(_name_key(name), []).append(name)
    for group in groups.values():
        if len(group) < 2:
            continue
        keep = group[0]
        keep_line = line_of(first_index[keep])
        for other in group[1:]:
            line = line_of(first_index[other])
            if merge:
                out.rename[other] = keep
                out.warnings.append(Problem(
                    spath, line, 1,
                    f"warning: annotator {_show(other)} counted as {_show(keep)} (line "
                    f"{keep_line}): the names differ only by case or Unicode normalisation "
                    "(--merge-names)"))
            else:
                problems.append((line, Problem(
                    spath, line, 1,
                    f"annotator {_show(other)} and {_show(keep)} (line {keep_line}) differ "
                    "only by case or Unicode normalisation: rename one, or count them as one "
                    "annotator with `annotator agreement --merge-names`")))
    return distinct, code, twice


def _label_problems(layer_id: str, value: Any, schema: LabelSchema) -> tuple[list[str], bool]:
    """(messages, repeated label) of one layer's value; computed once per distinct value."""
    nonunique = isinstance(value, list) and len(set(value)) != len(value)
    if not nonunique:
        found = _label_messages(layer_id, value, schema)
        return _VALID if not found else (found, False)
    return _label_messages(layer_id, value, schema), True


_VALID: tuple[list[str], bool] = ([], False)
_DONE = frozenset({"done", None})  # status; absent in an interchange record


def _gold_problems(record: dict, schema: LabelSchema) -> Iterator[str]:
    """A record's `gold`: labels and spans as any annotation's, and `decided_by` naming
    only annotators the record holds."""
    gold = record.get("gold")
    if not gold:
        return
    for layer_id, value in (gold.get("labels") or {}).items():
        if isinstance(value, list) and len(set(value)) != len(value):
            yield f"gold: labels/{layer_id}: a label is given twice"
        for msg in _label_messages(layer_id, value, schema):
            yield f"gold: {msg}"
    for msg in _span_problems(_plain(gold.get("spans") or []),
                              _plain(gold.get("relations") or []), record.get("text"), schema):
        yield f"gold: {msg}"
    names = {a["annotator"] for a in record["annotations"]}
    for key, who in [("decided_by", gold.get("decided_by") or []),
                     *((f"decided_by_layer/{k}", v)
                       for k, v in (gold.get("decided_by_layer") or {}).items())]:
        for name in who:
            if name not in names:
                yield f"gold/{key}: {name!r} has no annotation in this record"


def _label_messages(layer_id: str, value: Any, schema: LabelSchema) -> list[str]:
    out: list[str] = []
    layer = schema.layer(layer_id)
    if layer is None or layer.kind == "span":
        return [f"labels: no paragraph layer {layer_id!r} in schema {schema.id!r}"]
    if layer.kind == "multi" and not isinstance(value, list):
        return [f"labels/{layer_id}: a multi layer takes a list of label ids"]
    if layer.kind == "single" and isinstance(value, list):
        return [f"labels/{layer_id}: a single layer takes one label id or null"]
    for label in value if isinstance(value, list) else [value] if value else []:
        if layer.label(label) is None:
            out.append(f"labels/{layer_id}: no label {label!r} in layer {layer_id!r}")
    return out


def _span_problems(spans: list[dict], relations: list[dict], base: str | None,
                   schema: LabelSchema) -> Iterator[str]:
    ids: set[str] = set()
    for k, span in enumerate(spans):
        sid = span.get("id")
        where = f"spans/{sid}" if sid is not None else f"spans/{k}"
        if sid is not None:
            if sid in ids:
                yield f"{where}: duplicate span id"
            ids.add(sid)
        layer = schema.layer(span["layer"])
        if layer is None or layer.kind != "span":
            yield f"{where}: no span layer {span['layer']!r} in schema {schema.id!r}"
        elif layer.label(span["label"]) is None:
            yield f"{where}: no label {span['label']!r} in layer {span['layer']!r}"
        start, end = span["start"], span["end"]
        if start >= end:
            yield f"{where}: offsets [{start}, {end}) are reversed or empty: start must be " \
                  "before end"
        elif base is None:
            continue  # no text to check against (an interchange record)
        elif end > len(base):
            yield f"{where}: offsets [{start}, {end}) outside the text (length {len(base)})"
        elif "text" in span and base[start:end] != span["text"]:
            yield (f"{where}: text[{start}:{end}] is {base[start:end]!r}, "
                   f"but the span's text is {span['text']!r}")
    known = {r.id for lay in schema.span_layers for r in lay.relations}
    for rel in relations:
        for end_ in ("from", "to"):
            if rel[end_] not in ids:
                yield f"relations: {rel['label']} {end_} {rel[end_]!r}: no such span"
        if rel["label"] not in known:
            yield f"relations: no relation {rel['label']!r} in schema {schema.id!r}"


def read_export_records(path: Path) -> Iterator[dict]:
    """Export records as dicts, each line checked against its record JSON Schema only; a
    line that is not a valid record raises InputError naming the file and line. (For
    agreement use `read_export`, which also checks them against the label schema.)"""
    if not path.is_file():
        raise InputError("no such export file", path)
    checker = record_checker(EXPORT_RECORD)
    for lineno, start, raw in iter_raw_lines(path):
        obj = parse_line(raw, str(path), lineno, start)
        if isinstance(obj, Problem):
            raise InputError(obj)
        err = next(iter(checker.validator.iter_errors(obj)), None)
        if err is not None:
            raise InputError(Problem(str(path), lineno, 1, _message(err)))
        yield obj
