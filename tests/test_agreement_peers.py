"""Every case of ../shared/reference/peer-agreement/cases (160 assertions transcribed
from the test suites of dkpro-statistics, irrCAC, fast-krippendorff and NLTK) run
through the command line on an export file: `annotator agreement EXPORT --schema S
--json` (the CLI's main(), in process, for speed; the entry point itself is run in a
subprocess by test_agreement_cli.py). Each matches within the peer's tolerance, or is
a known definitional difference that docs/agreement.md explains ("Where we differ from
peers"), checked here as the value our definition gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from util import REPO

from annotator.cli import main

PEERS = REPO.parent / "shared" / "reference" / "peer-agreement" / "cases"
CASES = sorted(PEERS.glob("*.json")) if PEERS.is_dir() else []
DOCS = (REPO / "docs" / "agreement.md").read_text(encoding="utf-8")


def _schema(path: Path, kind: str, labels: list[str]) -> Path:
    rows = "".join(f"      - {{id: {json.dumps(lab)}, name: {json.dumps(lab)}, "
                   "description: c}\n" for lab in labels)
    path.write_text(f"id: peer\nversion: 1\ntitle: peer case\nlayers:\n  - id: v\n"
                    f"    name: value\n    kind: {kind}\n    labels:\n{rows}", encoding="utf-8")
    return path


def _record(u: int, text: str, anns: list[dict]) -> str:
    return json.dumps({"doc_id": "case", "paragraph": u, "text": text, "title": None,
                       "meta": {}, "schema": {"id": "peer", "version": 1, "sha256": ""},
                       "annotations": [{"status": "done", "spans": [], "relations": [],
                                        "labels": {}, "note": None,
                                        "updated_at": "2026-11-23T10:00:00Z", **a}
                                       for a in anns]}) + "\n"


def export_case(case: dict, tmp: Path) -> tuple[Path, Path]:
    """The case as an export file and a label schema."""
    kind = case["kind"]
    out = tmp / "case.jsonl"
    if kind == "unitizing":
        d = case["data"]
        labels = sorted({str(c) for _, _, _, c in d["units"]}
                        | ({str(case["field"])} if case.get("field") else set()))
        schema = _schema(tmp / "peer.yaml", "span", labels or ["x"])
        anns = []
        for rater in range(d["raters"]):
            spans = [{"id": f"s{k}", "layer": "v", "label": str(c), "start": b - d["begin"],
                      "end": b - d["begin"] + n, "text": "x" * n, "attributes": {}}
                     for k, (b, n, r, c) in enumerate(d["units"]) if r == rater and n > 0]
            anns.append({"annotator": f"r{rater}", "spans": spans})
        out.write_text(_record(0, "x" * d["length"], anns), encoding="utf-8")
        return out, schema
    data = case["data"]
    n_raters = max(len(row) for row in data)
    if kind == "binary":
        schema = _schema(tmp / "peer.yaml", "multi", ["on"])
        lines = [_record(u, f"unit {u}", [
            {"annotator": f"r{k}", "labels": {"v": ["on"] if int(v) else []}}
            for k, v in enumerate(row) if v is not None]) for u, row in enumerate(data)]
    else:
        cats = case.get("categories") or sorted({v for row in data for v in row if v is not None},
                                                key=lambda v: (str(type(v)), v))
        schema = _schema(tmp / "peer.yaml", "single", [str(c) for c in cats])
        lines = [_record(u, f"unit {u}", [
            {"annotator": f"r{k:02d}", "labels": {"v": str(v)}}
            for k, v in enumerate(row) if v is not None]) for u, row in enumerate(data)]
    assert n_raters >= 1
    out.write_text("".join(lines), encoding="utf-8")
    return out, schema


def ours(case: dict, rep: dict) -> float | None:
    """Our figure for the peer's coefficient."""
    lay = rep["layers"]["v"]
    coef = case["coefficient"]
    if case["kind"] == "binary":
        lay = lay["labels"]["on"]
    if case["kind"] == "unitizing":
        if case.get("field"):
            return lay["labels"][str(case["field"])]["unitized_alpha"]
        return lay["unitized_alpha"]
    if coef == "fleiss_category_kappa":
        return lay["categories"][str(case["field"])]["fleiss_kappa"]
    if coef in ("fleiss_kappa", "scott_pi"):  # Scott's pi: Fleiss' kappa of two raters
        return lay["fleiss_kappa"]
    if coef == "light_kappa":  # Light (1971): the mean of the pairwise Cohen's kappas
        kappas = [p["layers"]["v"]["cohen_kappa"] for p in rep["pairs"]]
        return None if None in kappas else sum(kappas) / len(kappas)
    if coef == "cohen_kappa" and lay["cohen_kappa"] is None and len(rep["pairs"]) == 1:
        return rep["pairs"][0]["layers"]["v"]["cohen_kappa"]
    return lay[coef]


@pytest.fixture(scope="module")
def tally():
    counts = {"matched": 0, "definitional": 0}
    yield counts
    print(f"\npeer cases: {counts['matched']} matched, {counts['definitional']} known "
          "definitional differences")


@pytest.mark.skipif(not CASES, reason="../shared/reference/peer-agreement is not beside the "
                                      "repository (CI lays shared/ out there)")
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_peer_case_through_the_cli(path: Path, tmp_path: Path, capsys, tally):
    case = json.loads(path.read_text(encoding="utf-8"))
    export, schema = export_case(case, tmp_path)
    assert main(["validate", str(export), "--schema", str(schema)]) == 0, capsys.readouterr()
    capsys.readouterr()
    assert main(["agreement", str(export), "--schema", str(schema), "--json",
                 "--bootstrap", "0"]) == 0
    rep = json.loads(capsys.readouterr().out)
    value = ours(case, rep)
    expected, tol = case["expected"], case["tolerance"]
    diff = case.get("known_difference")
    if not diff:
        if expected is None:
            assert value is None
        else:
            assert value == pytest.approx(expected, abs=tol), (value, expected)
        tally["matched"] += 1
        return
    # a known definitional difference: docs/agreement.md names the case, and our value is
    # the one our definition gives
    assert case["name"] in DOCS, f"docs/agreement.md does not explain {case['name']}"
    lay = rep["layers"]["v"]
    if case["coefficient"] == "fleiss_kappa" and "Gwet" in diff:
        # the peer's value is Gwet's missing-data extension, which we report beside
        assert lay["fleiss_kappa_gwet"] == pytest.approx(expected, abs=tol)
        if value is not None and abs(value - expected) <= tol:
            tally["matched"] += 1  # no missing rating where it matters: both agree
            return
    elif case["coefficient"] == "percent_agreement":
        assert value is not None and abs(value - expected) > tol  # per unit, not pooled
    else:
        assert value is None  # undefined (0/0): null with a reason, not 1.0 or 0.0
    tally["definitional"] += 1
