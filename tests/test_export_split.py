"""An export split over two processes (annotator/formats/split.py) writes byte for byte
what one process writes, for every format that splits; and falls back to one process
when the parts cannot be joined (the store changed between the two snapshots, the
child failed)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from formats_util import SCHEMA

from annotator.corpus import Document
from annotator.formats import split
from annotator.formats.exporting import export
from annotator.schema import load_schema
from annotator.store import SQLiteStore

ODD = " \u2028 \u202e"  # written as escapes in JSON (jsoncodec.py)
PTC = Path(__file__).resolve().parent.parent / "schemas" / "ptc2020.yaml"


def _project(root: Path, schema_path: Path, docs: int = 30) -> Path:
    """Two annotators on most units of `docs` documents: labels, spans, notes, skips,
    and a stretch of documents nobody annotated."""
    store = SQLiteStore(root / ".annotator")
    rng = random.Random(5)
    store.import_documents([
        Document(f"doc-{k:03d}", f"Title {k} \u2014 news" if k % 4 else None,
                 [f"Paragraph {p} of {k}: the \u201cminister\u201d said sanctions are "
                  f"warfare{ODD if k == 7 and p == 1 else ''}." for p in range(1, 4)],
                 {"n": k})
        for k in range(docs)])
    schema = load_schema(schema_path)
    span_layer = next(lay for lay in schema.layers if lay.kind == "span")
    para = [lay for lay in schema.layers if lay.kind != "span"]
    for name in ("alice", "bob"):
        j = store.journal(name, schema)
        for doc in store.iter_documents():
            if 10 <= doc.key <= 13:
                continue  # not annotated by anyone
            for u in store.units(doc.id):
                r = rng.random()
                if r < 0.1:
                    continue
                if r < 0.15:
                    j.apply(doc.id, u.index, {"type": "set_skipped", "skipped": True})
                    continue
                for lay in para:
                    lab = rng.choice(lay.labels)
                    j.apply(doc.id, u.index, {"type": "toggle_label", "layer": lay.id,
                                              "label": lab.id})
                if len(u.text) > 12 and rng.random() < 0.7:
                    a = rng.randrange(0, len(u.text) - 10)
                    j.apply(doc.id, u.index, {"type": "add_span", "layer": span_layer.id,
                                              "label": rng.choice(span_layer.labels).id,
                                              "start": a, "end": a + 8})
                if rng.random() < 0.2:
                    j.apply(doc.id, u.index, {"type": "set_note", "note": "look again"})
                j.apply(doc.id, u.index, {"type": "mark_done"})
    store.close()
    return root


def _read(path: Path) -> dict[str, bytes]:
    if path.is_file():
        return {"": path.read_bytes()}
    return {p.relative_to(path).as_posix(): p.read_bytes()
            for p in sorted(path.rglob("*")) if p.is_file()}


def _export(root: Path, schema_path: Path, fmt: str, out: Path, annotator: str | None,
            monkeypatch: pytest.MonkeyPatch, workers: str) -> tuple[int, list[str]]:
    monkeypatch.setenv(split.WORKERS_ENV, workers)
    store = SQLiteStore(root / ".annotator")
    try:
        res = export(store, load_schema(schema_path), fmt, out, annotator=annotator,
                     allow_loss=True)
    finally:
        store.close()
    return res.records, res.loss.warnings(True)


CASES = [("jsonl", None, SCHEMA, ".jsonl"),  # the default export, every annotator
         ("jsonl", "alice", SCHEMA, ".jsonl"),
         ("csv", None, SCHEMA, ".csv"),
         ("prodigy", "bob", SCHEMA, ".jsonl"),
         ("doccano", "alice", SCHEMA, ".jsonl"),
         ("doccano", None, SCHEMA, ""),  # a folder of <annotator>.jsonl
         ("semeval2023-t3", "alice", SCHEMA, ""),
         ("ptc", "alice", PTC, ""),
         ("brat", None, PTC, ""),
         ("label-studio", "alice", SCHEMA, ".json"),
         ("parquet", None, PTC, ".parquet")]


@pytest.mark.parametrize(("fmt", "annotator", "schema", "ext"), CASES)
def test_split_export_is_the_one_process_export(tmp_path: Path, monkeypatch, fmt, annotator,
                                                schema, ext):
    root = _project(tmp_path / "p", schema)
    one, two = tmp_path / f"one{ext}", tmp_path / f"two{ext}"
    n1, warn1 = _export(root, schema, fmt, one, annotator, monkeypatch, "1")
    calls = []
    real_start = split.start
    monkeypatch.setattr(split, "start", lambda job, work: calls.append(job.keys) or
                        real_start(job, work))
    n2, warn2 = _export(root, schema, fmt, two, annotator, monkeypatch, "2")
    assert calls == [(16, 30)]  # the second half of the document keys, in a child
    assert (n2, warn2) == (n1, warn1)
    got, want = _read(two), _read(one)
    assert list(got) == list(want)
    for name in want:
        assert got[name] == want[name], name
    assert n1 > 0 and any(want.values())
    beside = {f.name[3:]: f.read_bytes() for f in tmp_path.glob("one?*") if f.is_file()}
    assert {f.name[3:]: f.read_bytes() for f in tmp_path.glob("two?*") if f.is_file()} == \
        beside  # Label Studio's XML config
    assert not list(tmp_path.glob(".*part*"))  # no work folder left


def test_no_split_below_the_size_or_when_told(tmp_path: Path, monkeypatch):
    root = _project(tmp_path / "p", SCHEMA, docs=4)
    store = SQLiteStore(root / ".annotator")
    try:
        monkeypatch.delenv(split.WORKERS_ENV, raising=False)
        assert split.key_ranges(store, None) is None  # 4 documents: not worth a process
        monkeypatch.setenv(split.WORKERS_ENV, "1")
        assert split.key_ranges(store, None) is None
        monkeypatch.setenv(split.WORKERS_ENV, "2")
        assert split.key_ranges(store, None) == ((1, 2), (3, 4))
    finally:
        store.close()


@pytest.mark.parametrize(("fmt", "annotator", "ext"), [("jsonl", None, ".jsonl"),
                                                        ("csv", None, ".csv"),
                                                        ("brat", "alice", "")])
def test_parts_from_two_moments_fall_back_to_one_process(tmp_path: Path, monkeypatch, fmt,
                                                         annotator, ext):
    """The child reads after an annotator's action that this process's snapshot does
    not hold: its part is dropped, and the export is the one-process export of this
    process's moment."""
    root = _project(tmp_path / "p", SCHEMA)
    one = tmp_path / f"one{ext}"
    _export(root, SCHEMA, fmt, one, annotator, monkeypatch, "1")
    real_finish = split.finish

    def finish_after_a_write(proc, work, mark):
        proc.wait()
        return real_finish(proc, work, [mark[0][:-1] + (-1,)])  # as if another moment

    monkeypatch.setattr(split, "finish", finish_after_a_write)
    two = tmp_path / f"two{ext}"
    _export(root, SCHEMA, fmt, two, annotator, monkeypatch, "2")
    assert _read(two) == _read(one)


def test_snapshot_mark_changes_with_any_write(tmp_path: Path):
    root = _project(tmp_path / "p", SCHEMA, docs=3)
    store = SQLiteStore(root / ".annotator")
    try:
        j = store.journal("alice", load_schema(SCHEMA))
        with store.snapshot([j]):
            before = store.snapshot_mark([j])
        with store.snapshot([j]):
            assert store.snapshot_mark([j]) == before
        j.apply("doc-000", 1, {"type": "set_flag", "flag": True})
        with store.snapshot([j]):
            after = store.snapshot_mark([j])
        assert after != before
        store.import_documents([Document("doc-new", None, ["One more."])])
        with store.snapshot([j]):
            assert store.snapshot_mark([j]) != after
    finally:
        store.close()


def test_failed_child_falls_back(tmp_path: Path, monkeypatch):
    root = _project(tmp_path / "p", SCHEMA)
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    _export(root, SCHEMA, "csv", one, None, monkeypatch, "1")
    real_start = split.start

    def broken(job, work):
        job.root = tmp_path / "nowhere"  # the child cannot open the store
        return real_start(job, work)

    monkeypatch.setattr(split, "start", broken)
    _export(root, SCHEMA, "csv", two, None, monkeypatch, "2")
    assert two.read_bytes() == one.read_bytes()


@pytest.mark.parametrize(("fmt", "ext"), [("jsonl", ".jsonl"), ("csv", ".csv")])
def test_child_that_cannot_start_falls_back(tmp_path: Path, monkeypatch, fmt, ext):
    """A job that does not pickle (a store option, say) runs in one process; the output
    may go to a folder that does not exist yet."""
    root = _project(tmp_path / "p", SCHEMA)
    one = tmp_path / "a" / f"one{ext}"
    _export(root, SCHEMA, fmt, one, None, monkeypatch, "1")
    real_start = split.start

    def unpicklable(job, work):
        job.team = lambda: None
        return real_start(job, work)

    monkeypatch.setattr(split, "start", unpicklable)
    two = tmp_path / "b" / "new" / f"two{ext}"
    _export(root, SCHEMA, fmt, two, None, monkeypatch, "2")
    assert two.read_bytes() == one.read_bytes()
    assert sorted(p.name for p in two.parent.iterdir()) == [two.name]  # no part left


def test_the_child_runs_no_code_from_the_working_directory(tmp_path: Path):
    """`python -m` puts the working directory first on the path: a `pickle.py` (or an
    `annotator/`) in a directory others can write would have run in the child, as the
    user, or written half the export with other code. The real entry point, run from
    such a directory, splits and writes the one-process bytes; the planted module never
    runs."""
    import os
    import subprocess
    import sys

    root = _project(tmp_path / "p", SCHEMA)
    trap = tmp_path / "shared-dir"
    trap.mkdir()
    (trap / "pickle.py").write_text(
        f"open({str(tmp_path / 'RAN')!r}, 'w').write('planted code ran')\n"
        "raise SystemExit(3)\n", encoding="utf-8")
    outs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}.csv"
        env = {**os.environ, split.WORKERS_ENV: workers}
        # the installed console script, as users run it (its own folder is on its path,
        # not the working directory)
        r = subprocess.run([str(Path(sys.executable).parent / "annotator"), "export",
                            "--format", "csv", "--project", str(root), "--schema",
                            str(SCHEMA), "--out", str(out)],
                           cwd=trap, env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        outs[workers] = out.read_bytes()
    assert not (tmp_path / "RAN").exists()
    assert outs["1"] == outs["2"]
