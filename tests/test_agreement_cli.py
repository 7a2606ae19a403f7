"""Published worked examples through the real CLI, from an export file alone:
`annotator agreement EXPORT.jsonl --schema S --json`, as a researcher runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from util import run_cli

DATA = Path(__file__).parent / "data" / "agreement"


def _schema(path: Path, n_categories: int) -> Path:
    labels = "".join(f"      - {{id: '{k}', name: 'category {k}', description: c}}\n"
                     for k in range(1, n_categories + 1))
    path.write_text("id: ref\nversion: 1\ntitle: reference data\nlayers:\n"
                    "  - id: v\n    name: value\n    kind: single\n    labels:\n" + labels,
                    encoding="utf-8")
    return path


def _export(path: Path, units: list[list[int | None]], raters: list[str]) -> Path:
    """One export record per unit; rater r's value as the single layer's label."""
    with open(path, "w", encoding="utf-8") as fh:
        for u, row in enumerate(units):
            anns = [{"annotator": r, "status": "done", "labels": {"v": str(v)}, "spans": [],
                     "relations": [], "note": None, "updated_at": "2026-11-23T10:00:00Z"}
                    for r, v in zip(raters, row, strict=True) if v is not None]
            fh.write(json.dumps({"doc_id": "ref", "paragraph": u + 1, "text": f"unit {u}",
                                 "title": None, "meta": {},
                                 "schema": {"id": "ref", "version": 1, "sha256": ""},
                                 "annotations": anns}) + "\n")
    return path


def _report(tmp_path: Path, units, raters, n_categories) -> dict:
    schema = _schema(tmp_path / "ref.yaml", n_categories)
    export = _export(tmp_path / "ref.jsonl", units, raters)
    assert run_cli("validate", str(export), "--schema", str(schema)).returncode == 0
    r = run_cli("agreement", str(export), "--schema", str(schema), "--json",
                "--bootstrap", "200", "--seed", "1")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_krippendorff_2011_through_cli(tmp_path: Path):
    ref = json.loads((DATA / "krippendorff_2011_4x12.json").read_text(encoding="utf-8"))
    units = [list(col) for col in zip(*ref["data"], strict=True)]
    rep = _report(tmp_path, units, ["A", "B", "C", "D"], 5)
    lay = rep["layers"]["v"]
    assert lay["krippendorff_alpha"] == pytest.approx(ref["expected"]["alpha_nominal"],
                                                      abs=ref["tolerance"])
    other = ref["other_coefficients_same_data_irrCAC_tests"]
    assert lay["gwet_ac1"] == pytest.approx(other["gwet_ac1"]["coefficient"], abs=5e-4)
    assert lay["percent_agreement"] == pytest.approx(other["gwet_ac1"]["pa"], abs=5e-4)
    lo, hi = lay["alpha_ci95"]
    assert lo <= lay["krippendorff_alpha"] <= hi
    assert rep["annotators"] == ["A", "B", "C", "D"] and rep["units"] == 12


def test_fleiss_1971_through_cli(tmp_path: Path):
    ref = json.loads((DATA / "fleiss_1971.json").read_text(encoding="utf-8"))
    units = ref["raw_ratings_subjects_x_raters"]
    raters = [f"psychiatrist{i}" for i in range(1, 7)]
    rep = _report(tmp_path, units, raters, 5)
    lay = rep["layers"]["v"]
    assert lay["fleiss_kappa"] == pytest.approx(ref["expected"]["kappa"],
                                                abs=ref["tolerance"]["kappa"])
    assert lay["fleiss_units"] == 30
    cats = lay["categories"]
    for k, expected in enumerate(ref["expected"]["category_kappas_DKPro_test(tol 0.005)"]):
        assert cats[str(k + 1)]["fleiss_kappa"] == pytest.approx(
            expected, abs=ref["tolerance"]["category_kappas"])


def test_agreement_bad_export_line_exit_1(tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"doc_id": "x"}\n', encoding="utf-8")
    r = run_cli("agreement", str(bad))
    assert r.returncode == 1 and f"{bad}:1:1:" in r.stderr and "Traceback" not in r.stderr
