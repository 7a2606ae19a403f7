"""csv and parquet: flat tables pandas loads with no glue."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from formats_util import SCHEMA, annotated_project
from util import run_cli

pd = pytest.importorskip("pandas")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_table_loads_in_pandas(tmp_path: Path, fmt: str):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    src = annotated_project(tmp_path / "p")
    out = tmp_path / f"t.{fmt}"
    r = run_cli("export", "--format", fmt, "--out", str(out), "--schema", str(SCHEMA), cwd=src)
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
    units = df[df.kind == "unit"]
    # one unit row per annotator x annotated unit: alice 3, bob 3
    assert units.groupby("annotator").size().to_dict() == {"alice": 3, "bob": 3}
    labels = df[df.kind == "label"]
    got = sorted((a, d, p, la) for a, d, p, la in
                 labels[["annotator", "doc_id", "paragraph", "label"]].values.tolist())
    assert got == [("alice", "d1", 1, "negative"), ("alice", "d1", 1, "sovereignty"),
                   ("alice", "d1", 2, "certain_countries"), ("bob", "d1", 1, "sovereignty"),
                   ("bob", "d2", 1, "sanctions_aggression")]
    spans = df[df.kind == "span"]
    assert len(spans) == 3
    quote = spans[spans.label == "quote"].iloc[0]
    assert quote.span_text == "we will never accept this" and int(quote.start) == 19
    assert '"direct"' in quote.attributes
    # the emoji before the span: offsets are code points
    src_row = spans[(spans.paragraph == 2)].iloc[0]
    assert (int(src_row.start), src_row.span_text) == (2, "Certain countries")
    rel = df[df.kind == "relation"].iloc[0]
    assert (rel.label, rel.span_id, rel.target) == ("attributed_to", "s1", "s2")
    flagged = units[(units.annotator == "alice") & (units.paragraph == 2)].iloc[0]
    assert bool(flagged.flag) and flagged.note == "vague actor"
    # a unit marked done with no label: a unit row and nothing else
    assert len(df[(df.annotator == "bob") & (df.paragraph == 3)]) == 1


def test_parquet_without_pyarrow_says_how_to_install(tmp_path: Path):
    src = annotated_project(tmp_path / "p")
    code = ("import sys, builtins; real = builtins.__import__\n"
            "def imp(name, *a, **k):\n"
            "    if name.startswith('pyarrow'): raise ImportError(name)\n"
            "    return real(name, *a, **k)\n"
            "builtins.__import__ = imp\n"
            "from annotator.cli import main\n"
            f"sys.exit(main(['export', '--format', 'parquet', '--out', {str(tmp_path / 'x.parquet')!r},"
            f" '--schema', {str(SCHEMA)!r}]))\n")
    import subprocess
    r = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True)
    assert r.returncode == 1
    assert "pip install 'annotator[parquet]'" in r.stderr
    assert not (tmp_path / "x.parquet").exists()
