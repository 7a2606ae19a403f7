"""Fuzzing the commands that read user files: `validate`, `import`, `export`,
`agreement` (and `status`), in-process through `annotator.cli.main(argv)`.

Inputs are generated with hypothesis around the real shapes (label schemas, corpus
files, export records, sequences of annotation actions), then mutated: a field
replaced by a value of another type or removed, a line cut short, a character
inserted. Every run must end with exit code 0, 1 (a located message) or 2 (usage),
never with an exception; what is stored or written must hold no control character.

The default run tries a few dozen inputs per target (seconds); `pytest -m stress`
tries thousands. Each test prints how many inputs it tried.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from util import REPO

from annotator import cli
from annotator.schema import load_schema
from annotator.store import SQLiteStore
from annotator.textclean import clean_text

DEFAULT_EXAMPLES = 50
STRESS_EXAMPLES = 2000

LOCATED = re.compile(r"^.+?:\d+:\d+: .+$|^.+?: .+$")
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                       "\ud800-\udfff]")
SCHEMA = load_schema(REPO / "schemas" / "framing-devices.yaml")

# --- text ------------------------------------------------------------------------------

INTERESTING = [
    "\x1b", "\x1b[31m", "\x1b]0;pwned\x07", "\x1b]8;;http://e/\x1b\\", "\x9b", "\x9d", "\x9c",
    "\x85", "\x07", "\x00", "\x08", "\x0b", "\x0c", "\x7f", "\t", "\r", "\r\n", "\n", "\n\n",
    " \n \n", "\u00a0", "\u202e", "\u2066", "\u2069", "\u2028", "\u2029", "\ufeff", "\u200b",
    "\u200d", "e\u0301", "\U0001F469\u200d\U0001F4BB", "\ud800", "\udfff", "\udc80", "[",
    "]", "[/", "[bold]", "[@click=app.quit]", "#", "# ", "---", ": ", "- ", "&a", "*a",
    "!!python/object/apply:os.system", '"', "'", "\\", "{", "}", "NaN", "1e999",
]
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
text = st.lists(st.one_of(st.text(max_size=6), st.sampled_from(INTERESTING), surrogates),
                max_size=12).map("".join)
text_no_surrogates = st.lists(st.one_of(st.text(max_size=6), st.sampled_from(INTERESTING)),
                              max_size=12).map(lambda parts: re.sub("[\ud800-\udfff]", "",
                                                                    "".join(parts)))
short = st.one_of(st.sampled_from(["a", "b", "x1", "quote", "source", "devices", "stance"]),
                  text)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False,
                                                                 allow_infinity=False), text),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(short, children, max_size=3)),
    max_leaves=8)


# --- running the CLI in-process --------------------------------------------------------

def run(*argv: str) -> tuple[int, str, str]:
    """cli.main(argv): (exit code, stdout, stderr). Any exception fails the test."""
    out, err = io.StringIO(), io.StringIO()
    # import's summary is printed to the stderr bound when cli.py was imported
    defaults = getattr(cli, "_print_import", None) and cli._print_import.__defaults__
    if defaults and len(defaults) == 1:
        cli._print_import.__defaults__ = (err,)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = cli.main(list(argv))
            except SystemExit as exc:  # argparse: usage errors
                rc = exc.code if isinstance(exc.code, int) else 2
    finally:
        if defaults and len(defaults) == 1:
            cli._print_import.__defaults__ = defaults
    return rc, out.getvalue(), err.getvalue()


def check_messages(rc: int, out: str, err: str) -> None:
    assert rc in (0, 1, 2), (rc, out, err)
    assert "Traceback" not in out + err
    if rc == 1:
        lines = [line.removeprefix("annotator: ") for line in (out + err).splitlines()
                 if line.strip() and not line.startswith("  ")]
        assert lines, (out, err)
        assert all(LOCATED.match(line) for line in lines), (out, err)
    # messages quote the input: never a control character (an escape, a C1 ...)
    assert not FORBIDDEN.search(re.sub("[\n]", "", out + err)), ascii(out + err)


def fuzz(name: str, strategy, target, examples: int) -> Counter:
    """Run `target` on `examples` inputs drawn from `strategy`; print the count."""
    outcomes: Counter = Counter()

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])
    @given(strategy)
    def go(value):
        outcomes[target(value)] += 1

    t0 = time.perf_counter()
    go()
    took = time.perf_counter() - t0
    print(f"\nfuzz {name}: {sum(outcomes.values())} inputs in {took:.1f} s; "
          f"outcomes {dict(sorted(outcomes.items()))}")
    return outcomes


# --- mutations -------------------------------------------------------------------------

def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, path + (i,))


@st.composite
def mutated(draw, base_strategy, max_mutations: int = 3):
    """A structure from `base_strategy` with up to `max_mutations` fields replaced by
    a random JSON value or removed (half the time none: valid input must get through
    too, to reach the code behind validation)."""
    value = copy.deepcopy(draw(base_strategy))
    n = draw(st.sampled_from([0, 0, 0, *range(1, max_mutations + 1)]))
    for _ in range(n):
        paths = [p for p in _paths(value) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = value
        for k in path[:-1]:
            parent = parent[k]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return value


@st.composite
def text_mutated(draw, content: str) -> str:
    """`content`, maybe cut short, with a character inserted, or a line repeated."""
    how = draw(st.sampled_from(["none", "none", "cut", "insert", "repeat"]))
    if how == "cut" and content:
        return content[: draw(st.integers(0, len(content) - 1))]
    if how == "insert":
        at = draw(st.integers(0, len(content)))
        return content[:at] + draw(st.sampled_from(INTERESTING)) + content[at:]
    if how == "repeat" and "\n" in content:
        lines = content.split("\n")
        i = draw(st.integers(0, len(lines) - 1))
        return "\n".join(lines[: i + 1] + lines[i:])
    return content


# --- label schemas ---------------------------------------------------------------------

slug = st.from_regex(r"[a-z][a-z0-9_-]{0,6}", fullmatch=True)
ident = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,6}", fullmatch=True)
name = st.one_of(st.sampled_from(["Name", "Quote", "Ünïcode", "[bold]x[/]"]), text)
keys = st.sampled_from(["a", "b", "c", "e", "i", "o", "p", "s", "y", "z", "Q", "S", "A", "1",
                        "2", "9", "%", "f5", "ctrl+e", "j", "?", "[", " ", "\t", "\x1b",
                        "\u0301", "", "space", "shift+tab"])
attribute = st.fixed_dictionaries(
    {"id": ident, "name": name, "values": st.lists(name, min_size=1, max_size=3)},
    optional={"default": name, "key": keys, "description": text})
label = st.fixed_dictionaries(
    {"id": st.one_of(slug, name), "name": name, "description": text},
    optional={"key": keys, "examples": st.lists(text, max_size=2), "category": text,
              "attributes": st.lists(attribute, max_size=2)})
relation = st.fixed_dictionaries(
    {"id": ident, "name": name, "from": st.lists(slug, min_size=1, max_size=2),
     "to": st.lists(slug, min_size=1, max_size=2)}, optional={"description": text})
layer = st.fixed_dictionaries(
    {"id": slug, "name": name, "kind": st.sampled_from(["multi", "single", "span"]),
     "labels": st.lists(label, min_size=1, max_size=4)},
    optional={"description": text, "relations": st.lists(relation, max_size=2)})
schema_data = st.fixed_dictionaries(
    {"id": slug, "version": st.one_of(st.integers(0, 3), name), "title": name,
     "layers": st.lists(layer, min_size=1, max_size=3)},
    optional={"description": text, "guidelines": text, "source": text})


KEY_POOL = list("cdeiopyzsQSAZ123456789%") + ["f5", "ctrl+e"]
nonempty = st.one_of(st.text(min_size=1, max_size=10),
                     text_no_surrogates.filter(bool))


@st.composite
def consistent_schema(draw) -> dict:
    """A label schema that is valid as generated: unique ids and free hotkeys, relations
    between labels of their layer (hostile characters only where text is free)."""
    free_keys = list(KEY_POOL)

    def key(out: dict) -> None:
        if free_keys and draw(st.booleans()):
            out["key"] = free_keys.pop(draw(st.integers(0, len(free_keys) - 1)))

    layers = []
    for lid in draw(st.lists(slug, min_size=1, max_size=3, unique=True)):
        kind = draw(st.sampled_from(["multi", "single", "span"]))
        labels = []
        label_ids = draw(st.lists(st.one_of(slug, nonempty), min_size=1, max_size=4,
                                  unique=True))
        for bid in label_ids:
            lab = {"id": bid, "name": draw(nonempty), "description": draw(text_no_surrogates)}
            key(lab)
            if draw(st.booleans()):
                lab["examples"] = draw(st.lists(text_no_surrogates, max_size=2))
            if kind == "span" and draw(st.booleans()):
                values = draw(st.lists(nonempty, min_size=1, max_size=3, unique=True))
                att = {"id": draw(ident), "name": draw(nonempty), "values": values}
                if draw(st.booleans()):
                    att["default"] = draw(st.sampled_from(values))
                lab["attributes"] = [att]
            labels.append(lab)
        lay = {"id": lid, "name": draw(nonempty), "kind": kind, "labels": labels}
        if kind == "span" and draw(st.booleans()):
            lay["relations"] = [{"id": draw(ident), "name": draw(nonempty),
                                 "from": [draw(st.sampled_from(label_ids))],
                                 "to": [draw(st.sampled_from(label_ids))]}]
        layers.append(lay)
    data = {"id": draw(slug), "version": draw(st.one_of(st.integers(0, 3), slug)),
            "title": draw(nonempty), "layers": layers}
    if draw(st.booleans()):
        data["guidelines"] = draw(text_no_surrogates)
    return data


def _dump(data, draw) -> str:
    options = {"allow_unicode": draw(st.booleans()), "sort_keys": False,
               "default_flow_style": draw(st.sampled_from([False, None]))}
    try:
        return yaml.dump(data, Dumper=yaml.CSafeDumper, **options)
    except UnicodeEncodeError:  # libyaml's emitter cannot write a lone surrogate
        return yaml.dump(data, Dumper=yaml.SafeDumper, **options)


@st.composite
def schema_files(draw) -> tuple[bytes, bool]:
    """(file bytes, whether it is the unmutated dump of generated data): half valid
    schemas, half broken ones (fields replaced or removed, text cut or spliced, free
    structure, YAML-ish text)."""
    if not draw(st.booleans()):
        return _dump(draw(consistent_schema()), draw).encode("utf-8", "surrogatepass"), True
    kind = draw(st.sampled_from(["consistent", "consistent", "free", "text"]))
    if kind == "text":
        return draw(text).encode("utf-8", "surrogatepass"), False
    data = draw(mutated(consistent_schema() if kind == "consistent" else schema_data))
    dumped = _dump(data, draw)
    final = draw(text_mutated(dumped))
    return final.encode("utf-8", "surrogatepass"), final == dumped


def _validate_schema(arg: tuple[bytes, bool]) -> int:
    from annotator import yamlload
    from annotator.yamlload import _PyLoader, load_yaml_text

    content, pristine = arg
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "schema.yaml"
        path.write_bytes(content)
        rc, out, err = run("validate", str(path))
        check_messages(rc, out, err)
        if rc == 0:
            schema = load_schema(path)
            assert not any(FORBIDDEN.search(lab.name) for lay in schema.layers
                           for lab in lay.labels)
            assert run("annotate", "--schema", str(path), "--project", d)[0] == 1  # no corpus
        c_loader = getattr(yamlload, "_CLoader", None)  # PyYAML built with libyaml
        if pristine and c_loader is not None:
            # YAML as a dumper writes it: libyaml and the pure-Python parser agree
            text_ = content.decode("utf-8", "surrogatepass")
            try:
                a = load_yaml_text(text_, loader_class=_PyLoader)
            except Exception as exc:  # noqa: BLE001 - compared below
                a = type(exc)
            try:
                b = load_yaml_text(text_, loader_class=c_loader)
            except Exception as exc:  # noqa: BLE001
                b = type(exc)
            if not isinstance(a, type) and not isinstance(b, type):
                assert (a.data, a.positions, a.key_positions) == (
                    b.data, b.positions, b.key_positions)
            elif not re.search("[\ud800-\udfff]", text_) and "\\u" not in text_:
                assert isinstance(a, type) and isinstance(b, type), (a, b)
    return rc


def test_fuzz_validate_schemas():
    fuzz("validate schema", schema_files(), _validate_schema, DEFAULT_EXAMPLES)


@pytest.mark.stress
def test_fuzz_validate_schemas_stress():
    fuzz("validate schema (stress)", schema_files(), _validate_schema, STRESS_EXAMPLES)


# --- corpora ---------------------------------------------------------------------------

doc_fields = {"title": st.one_of(text, st.none()),
              "meta": st.one_of(st.dictionaries(short, json_values, max_size=3), st.none())}
document = st.one_of(
    st.fixed_dictionaries({"id": st.one_of(short, st.integers(0, 5)), "text": text},
                          optional=doc_fields),
    st.fixed_dictionaries({"id": st.one_of(short, st.integers(0, 5)),
                           "paragraphs": st.lists(text, max_size=4)}, optional=doc_fields))


@st.composite
def corpus_files(draw) -> tuple[str, bytes]:
    """(suffix, file bytes): half well-formed files (any text, controls and lone
    surrogates written as JSON escapes included), half broken ones."""
    suffix = draw(st.sampled_from([".txt", ".md", ".jsonl", ".jsonl"]))
    broken = draw(st.booleans())
    if suffix != ".jsonl":
        body = draw(st.lists(text if broken else text_no_surrogates, max_size=6))
        raw = "\n".join(body).encode("utf-8", "surrogatepass")  # a surrogate: bad UTF-8
        if broken and draw(st.booleans()):
            at = draw(st.integers(0, len(raw)))
            raw = raw[:at] + draw(st.binary(min_size=1, max_size=4)) + raw[at:]
        return suffix, raw
    lines = []
    for doc in draw(st.lists(mutated(document, max_mutations=1) if broken else document,
                             max_size=5)):
        if not broken:
            doc["id"] = f"{doc['id']}-{len(lines)}"  # unique ids
        line = json.dumps(doc, ensure_ascii=not broken or draw(st.booleans()))
        lines.append(draw(text_mutated(line)) if broken else line)
    if broken and draw(st.integers(0, 4)) == 0:
        lines.append(draw(st.sampled_from(["[" * 2000, '{"id": "n", "text": NaN}', "\x00",
                                           '{"id": "d", "text": "' + "9" * 5000 + '"}'])))
    return suffix, "\n".join(lines).encode("utf-8", "surrogatepass")


def _import_corpus(arg: tuple[str, bytes]) -> int:
    suffix, content = arg
    with tempfile.TemporaryDirectory() as d:
        project = Path(d)
        path = project / f"c{suffix}"
        path.write_bytes(content)
        rc, out, err = run("import", str(path), "--project", d)
        check_messages(rc, out, err)
        if (project / ".annotator" / "corpus.db").exists():
            store = SQLiteStore(project / ".annotator")
            try:
                if rc == 1:
                    assert store.document_count() == 0  # a bad file imports nothing
                for info in store.iter_documents():
                    assert not FORBIDDEN.search(info.id + (info.title or ""))
                    assert not FORBIDDEN.search(json.dumps(info.meta, ensure_ascii=False))
                    for unit in store.units(info.id):
                        assert not FORBIDDEN.search(unit.text)
            finally:
                store.close()
        if rc == 0:
            # what was imported exports (nothing is annotated: no records) and reports
            for argv in (["status"], ["agreement", "--bootstrap", "0"]):
                r = run(*argv, "--project", d)
                check_messages(*r)
                assert r[0] == 0, r
    return rc


def test_fuzz_import_corpora():
    fuzz("import corpus", corpus_files(), _import_corpus, DEFAULT_EXAMPLES)


@pytest.mark.stress
def test_fuzz_import_corpora_stress():
    fuzz("import corpus (stress)", corpus_files(), _import_corpus, STRESS_EXAMPLES)


# --- export files: validate and agreement ----------------------------------------------

ANNOTATORS = st.one_of(st.sampled_from(["alice", "bob", "carol"]), text)
LABEL_IDS = [lab.id for lay in SCHEMA.layers for lab in lay.labels]
label_id = st.one_of(st.sampled_from(LABEL_IDS), short)
span = st.fixed_dictionaries(
    {"id": st.sampled_from(["s1", "s2", "s3"]), "layer": st.sampled_from(["quotes", "devices"]),
     "label": st.sampled_from(["quote", "source", "x"]), "start": st.integers(0, 12),
     "end": st.integers(0, 14), "text": text},
    optional={"attributes": st.dictionaries(st.sampled_from(["type", "x"]),
                                            st.sampled_from(["direct", "indirect", "?"]))})
annotation = st.fixed_dictionaries(
    {"annotator": ANNOTATORS, "status": st.just("done"),
     "labels": st.fixed_dictionaries(
         {}, optional={"devices": st.lists(label_id, max_size=3, unique=True),
                       "stance": st.one_of(st.none(), label_id), "quotes": st.none()}),
     "spans": st.lists(span, max_size=3), "relations": st.lists(st.fixed_dictionaries(
         {"label": st.sampled_from(["attributed_to", "x"]),
          "from": st.sampled_from(["s1", "s2"]), "to": st.sampled_from(["s1", "s2", "s9"])}),
         max_size=2),
     "note": st.one_of(st.none(), text_no_surrogates),
     "updated_at": st.just("2026-01-01T00:00:00Z")},
    optional={"flag": st.booleans(), "seconds": st.one_of(st.floats(0, 100), st.none()),
              "stale": st.booleans(), "original_text": st.one_of(st.none(), text)})
record = st.fixed_dictionaries(
    {"doc_id": st.sampled_from(["d1", "d2", "d3"]), "paragraph": st.integers(0, 3),
     "text": text, "title": st.one_of(st.none(), text),
     "meta": st.dictionaries(short, json_values, max_size=2),
     "schema": st.fixed_dictionaries(
         {"id": st.sampled_from(["framing-devices", "framing-devices", "ptc2020", "nope"]),
          "version": st.sampled_from([1, 1, "1", 2]), "sha256": st.just("")}),
     "annotations": st.lists(annotation, max_size=4)},
    optional={"agreement": st.fixed_dictionaries({"annotators": st.integers(0, 4)})})


DEVICES = [lab.id for lab in SCHEMA.layer("devices").labels]
STANCES = [lab.id for lab in SCHEMA.layer("stance").labels]


@st.composite
def consistent_annotation(draw, text_: str) -> dict:
    """An annotation as export writes it: known labels, spans whose text is the unit's
    text at their offsets, a quote attributed to a source."""
    spans = []
    for i in range(draw(st.integers(0, 3)) if text_ else 0):
        start = draw(st.integers(0, len(text_) - 1))
        end = draw(st.integers(start + 1, len(text_)))
        lab = draw(st.sampled_from(["quote", "source"]))
        spans.append({"id": f"s{i + 1}", "layer": "quotes", "label": lab, "start": start,
                      "end": end, "text": text_[start:end],
                      "attributes": {"type": draw(st.sampled_from(["direct", "indirect"]))}
                      if lab == "quote" else {}})
    quotes = [sp["id"] for sp in spans if sp["label"] == "quote"]
    sources = [sp["id"] for sp in spans if sp["label"] == "source"]
    relations = ([{"label": "attributed_to", "from": quotes[0], "to": sources[0]}]
                 if quotes and sources and draw(st.booleans()) else [])
    return {"status": "done",
            "labels": {"devices": draw(st.lists(st.sampled_from(DEVICES), max_size=3,
                                                unique=True)),
                       "stance": draw(st.one_of(st.none(), st.sampled_from(STANCES)))},
            "spans": spans, "relations": relations,
            "note": draw(st.one_of(st.none(), text_no_surrogates.map(clean_text))),
            "flag": draw(st.booleans()), "updated_at": "2026-01-01T00:00:00Z",
            "seconds": draw(st.floats(0, 1000))}


@st.composite
def consistent_records(draw) -> list[dict]:
    units = draw(st.lists(st.tuples(st.sampled_from(["d1", "d2", "d3"]), st.integers(0, 3)),
                          max_size=8, unique=True))
    records = []
    for doc_id, paragraph in units:
        text_ = clean_text(draw(text_no_surrogates))
        who = draw(st.lists(st.sampled_from(["alice", "bob", "carol"]), min_size=1,
                            max_size=3, unique=True))
        records.append({"doc_id": doc_id, "paragraph": paragraph, "text": text_,
                        "title": None, "meta": {},
                        "schema": {"id": "framing-devices", "version": 1, "sha256": ""},
                        "annotations": [{"annotator": a, **draw(consistent_annotation(text_))}
                                        for a in who]})
    return records


@st.composite
def export_files(draw) -> bytes:
    """Half the files as export writes them, half with records or lines broken."""
    if not draw(st.booleans()):
        records = draw(consistent_records())
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    lines = []
    for rec in draw(st.lists(st.one_of(mutated(record, max_mutations=1),
                                       consistent_records().flatmap(
                                           lambda rs: mutated(st.just(rs[0]) if rs
                                                              else record))),
                             max_size=8)):
        line = json.dumps(rec, ensure_ascii=draw(st.booleans()))
        lines.append(draw(text_mutated(line)) if draw(st.booleans()) else line)
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def _check_report(out: str) -> None:
    report = json.loads(out)  # valid JSON: no NaN, no Infinity

    def finite(v):
        if isinstance(v, float):
            assert math.isfinite(v)
        elif isinstance(v, dict):
            for x in v.values():
                finite(x)
        elif isinstance(v, list):
            for x in v:
                finite(x)

    finite(report)


def _export_file(content: bytes) -> tuple[int, int]:
    """(exit code of validate, of agreement --json)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "e.jsonl"
        path.write_bytes(content)
        rc, out, err = run("validate", str(path), "--project", d)
        check_messages(rc, out, err)
        for extra in (["--json", "--bootstrap", "20"],
                      ["--bootstrap", "0", "--schema",
                       str(REPO / "schemas" / "framing-devices.yaml")]):
            rc2, out2, err2 = run("agreement", str(path), "--project", d, *extra)
            check_messages(rc2, out2, err2)
            if rc2 == 0 and "--json" in extra:
                _check_report(out2)
            elif rc2 != 0 and rc == 0 and "--json" in extra:
                raise AssertionError(f"valid export, agreement failed: {err2}")
            if "--json" in extra:
                rc_json = rc2
    return rc, rc_json


def test_fuzz_export_files():
    fuzz("validate + agreement on export files", export_files(), _export_file,
         DEFAULT_EXAMPLES)


@pytest.mark.stress
def test_fuzz_export_files_stress():
    fuzz("validate + agreement on export files (stress)", export_files(), _export_file,
         STRESS_EXAMPLES)


# --- the store: actions, then export, validate, agreement, status ------------------------

SPAN_LABELS = [(lay.id, lab.id) for lay in SCHEMA.span_layers for lab in lay.labels]
TOGGLES = [(lay.id, lab.id) for lay in SCHEMA.paragraph_layers for lab in lay.labels]


@st.composite
def sessions(draw):
    """A corpus (one JSONL file) and the actions of up to three annotators on it."""
    docs = draw(st.lists(st.fixed_dictionaries(
        {"title": st.one_of(st.none(), text), "paragraphs": st.lists(text, min_size=1,
                                                                     max_size=3)}),
        min_size=1, max_size=3))
    steps = draw(st.lists(st.tuples(
        st.sampled_from(["alice", "bob", "carol"]), st.integers(0, 2), st.integers(0, 3),
        st.sampled_from(["done", "toggle", "span", "note", "flag", "relation"]),
        st.integers(0, 10 ** 6), text_no_surrogates), max_size=25))
    return docs, steps


def _store_session(arg) -> int:
    docs, steps = arg
    with tempfile.TemporaryDirectory() as d:
        project = Path(d)
        with open(project / "c.jsonl", "w", encoding="utf-8") as fh:
            for i, doc in enumerate(docs):
                fh.write(json.dumps({"id": f"d{i}", **doc}) + "\n")
        rc, out, err = run("import", str(project / "c.jsonl"), "--project", d)
        check_messages(rc, out, err)
        assert rc == 0, err  # generated documents are valid ones
        store = SQLiteStore(project / ".annotator")
        try:
            infos = list(store.iter_documents())
            journals = {}
            for who, di, ui, kind, n, note in steps:
                if not infos:
                    break
                info = infos[di % len(infos)]
                units = store.units(info.id)
                unit = units[ui % len(units)]
                j = journals.get(who) or journals.setdefault(who, store.journal(who, SCHEMA))
                if kind == "done":
                    j.apply(info.id, unit.index, {"type": "mark_done"})
                elif kind == "toggle":
                    layer_id, label_id_ = TOGGLES[n % len(TOGGLES)]
                    j.apply(info.id, unit.index, {"type": "toggle_label", "layer": layer_id,
                                                  "label": label_id_})
                elif kind in ("span", "relation") and len(unit.text) >= 1:
                    start = n % len(unit.text)
                    end = start + 1 + (n // 7) % (len(unit.text) - start)
                    layer_id, label_id_ = SPAN_LABELS[n % len(SPAN_LABELS)]
                    j.apply(info.id, unit.index, {"type": "add_span", "layer": layer_id,
                                                  "label": label_id_, "start": start,
                                                  "end": end})
                    spans = j.state(info.id, unit.index)["spans"]
                    if kind == "relation" and len(spans) >= 2:
                        j.apply(info.id, unit.index, {"type": "add_relation",
                                                      "label": "attributed_to",
                                                      "from": spans[0]["id"],
                                                      "to": spans[-1]["id"]})
                elif kind == "note":
                    j.apply(info.id, unit.index, {"type": "set_note", "note": note})
                elif kind == "flag":
                    j.apply(info.id, unit.index, {"type": "set_flag", "flag": bool(n % 2)})
        finally:
            store.close()
        out_path = project / "e.jsonl"
        results = [run("export", "--out", str(out_path), "--project", d),
                   run("validate", str(out_path), "--project", d),
                   run("agreement", str(out_path), "--json", "--bootstrap", "20",
                       "--project", d),
                   run("agreement", "--json", "--bootstrap", "20", "--project", d),
                   run("status", "--project", d)]
        for rc_, out_, err_ in results:
            check_messages(rc_, out_, err_)
            assert rc_ == 0, (rc_, out_[-2000:], err_[-2000:])
        _check_report(results[2][1])
        _check_report(results[3][1])
        exported = out_path.read_text(encoding="utf-8")
        for line in exported.split("\n")[:-1]:  # not splitlines: U+2028 in a note
            rec = json.loads(line)
            assert not FORBIDDEN.search(rec["text"] + (rec["title"] or ""))
    return 0


def test_fuzz_store_export_agreement():
    fuzz("actions -> export -> validate -> agreement -> status", sessions(), _store_session,
         DEFAULT_EXAMPLES // 2)


@pytest.mark.stress
def test_fuzz_store_export_agreement_stress():
    fuzz("actions -> export -> validate -> agreement -> status (stress)", sessions(),
         _store_session, STRESS_EXAMPLES // 4)


# --- the two YAML parsers --------------------------------------------------------------

def test_libyaml_and_python_parsers_agree_on_shipped_and_broken_schemas():
    """The loader runs libyaml's parser under our composer when PyYAML has it: on every
    shipped and every deliberately broken schema it gives the data and the positions
    the pure-Python parser gives, or fails on the same line."""
    from annotator import yamlload
    from annotator.errors import InputError

    c_loader = getattr(yamlload, "_CLoader", None)
    if c_loader is None:
        pytest.skip("PyYAML without libyaml")
    files = sorted((REPO / "schemas").glob("*.yaml")) + sorted(
        (REPO / "tests" / "data" / "schemas" / "broken").glob("*.yaml"))
    compared = 0
    for path in files:
        try:
            content = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            continue
        results = []
        for loader in (yamlload._PyLoader, c_loader):
            try:
                doc = yamlload.load_yaml_text(content, path, loader_class=loader)
                results.append((doc.data, doc.positions, doc.key_positions))
            except InputError as exc:
                results.append([p.line for p in exc.problems])
        assert results[0] == results[1], path.name
        compared += 1
    assert compared >= 25
