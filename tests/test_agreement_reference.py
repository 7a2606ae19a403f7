"""Every published worked example in tests/data/agreement reproduced within its tolerance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from agreement_records import labels, schema_of

from annotator.agreement import (
    brennan_prediger,
    build_ratings,
    cohen_kappa_table,
    compute_report,
    count_table,
    counts_from_ratings,
    fleiss_category_kappas,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    percent_agreement,
    table_to_counts,
    unitized_alpha,
)
from annotator.schema import Layer

DATA = Path(__file__).parent / "data" / "agreement"


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- Krippendorff 2011, 4 x 12


@pytest.fixture(scope="module")
def k2011():
    ref = load("krippendorff_2011_4x12.json")
    units_by_rater = ref["data"]
    units = [list(col) for col in zip(*units_by_rater, strict=True)]
    counts, cats = counts_from_ratings(units)
    return ref, count_table(counts), cats


def test_k2011_alpha_nominal(k2011):
    ref, t, _ = k2011
    tol = ref["tolerance"]
    a = krippendorff_alpha(t)
    assert a.value == pytest.approx(ref["expected"]["alpha_nominal"], abs=tol)
    assert a.value == pytest.approx(ref["exact_computed"]["alpha_nominal"], abs=1e-9)


def test_k2011_gwet_ac1_bp_percent(k2011):
    ref, t, _ = k2011
    other = ref["other_coefficients_same_data_irrCAC_tests"]
    assert gwet_ac1(t).value == pytest.approx(other["gwet_ac1"]["coefficient"], abs=5e-4)
    assert gwet_ac1(t).value == pytest.approx(other["computed_here_irrCAC"]["gwet"], abs=5e-5)
    assert percent_agreement(t).value == pytest.approx(other["gwet_ac1"]["pa"], abs=5e-4)
    assert brennan_prediger(t).value == pytest.approx(
        other["brennan_prediger"]["coefficient"], abs=5e-4
    )


def test_k2011_fleiss_missing_variants(k2011):
    """0.761 is Gwet's missing-data Fleiss; the report's Fleiss uses complete units only."""
    ref, t, _ = k2011
    other = ref["other_coefficients_same_data_irrCAC_tests"]
    gw = fleiss_kappa(t, missing="gwet")
    assert gw.value == pytest.approx(other["fleiss_kappa"]["coefficient"], abs=5e-4)
    assert gw.value == pytest.approx(other["computed_here_irrCAC"]["fleiss"], abs=5e-5)
    # complete units: units 2..9 are rated by all four observers
    complete = fleiss_kappa(t, n_raters=4)
    assert complete.value == pytest.approx(0.6414565826, abs=1e-9)


def test_k2011_through_records_and_report(k2011):
    """The same data as export records of a single layer: every rating names a label, so
    AC1's scale is the 5 labels and the published value holds."""
    ref, t, _ = k2011
    observers = ["A", "B", "C", "D"]
    records = []
    for u in range(12):
        anns = []
        for o, row in zip(observers, ref["data"], strict=True):
            if row[u] is not None:
                anns.append({"annotator": o, "status": "done", "labels": {"v": str(row[u])}})
        records.append({"doc_id": "k", "paragraph": u, "text": "", "annotations": anns})
    schema = schema_of(Layer("v", "v", "single", labels(*(str(i) for i in range(1, 6)))), id="k")
    rep = compute_report(build_ratings(records, schema), schema, bootstrap=0)
    lay = rep["layers"]["v"]
    assert lay["krippendorff_alpha"] == pytest.approx(
        ref["exact_computed"]["alpha_nominal"], abs=1e-9
    )
    assert lay["percent_agreement"] == pytest.approx(0.8181818, abs=1e-6)
    assert lay["gwet_ac1"] == pytest.approx(gwet_ac1(t, n_categories=5).value, abs=1e-12)
    other = ref["other_coefficients_same_data_irrCAC_tests"]
    assert lay["gwet_ac1"] == pytest.approx(other["gwet_ac1"]["coefficient"], abs=5e-4)
    assert lay["fleiss_kappa"] == pytest.approx(0.6414565826, abs=1e-9)
    assert lay["fleiss_units"] == 8
    assert lay["units"] == 11
    assert lay["cohen_kappa"] is None and "more than two" in lay["reasons"]["cohen_kappa"]


# ---------------------------------------------------------------- Fleiss 1971


def test_fleiss_1971_kappa_from_counts_and_raw():
    ref = load("fleiss_1971.json")
    t = count_table(np.array(ref["count_table_subjects_x_categories_1to5"]))
    k = fleiss_kappa(t)
    assert k.value == pytest.approx(ref["expected"]["kappa"], abs=ref["tolerance"]["kappa"])
    assert percent_agreement(t).value == pytest.approx(
        ref["expected"]["P_bar_observed"], abs=ref["tolerance"]["P"]
    )
    raw, _ = counts_from_ratings(ref["raw_ratings_subjects_x_raters"], categories=[1, 2, 3, 4, 5])
    assert (raw == np.array(ref["count_table_subjects_x_categories_1to5"])).all()
    assert fleiss_kappa(count_table(raw)).value == pytest.approx(k.value, abs=1e-12)
    # no missing ratings: the missing-data extension must agree with the classic formula
    assert fleiss_kappa(t, missing="gwet").value == pytest.approx(k.value, abs=1e-12)


def test_fleiss_1971_category_kappas():
    ref = load("fleiss_1971.json")
    t = count_table(np.array(ref["count_table_subjects_x_categories_1to5"]))
    got = [e.value for e in fleiss_category_kappas(t)]
    want = ref["expected"]["category_kappas_DKPro_test(tol 0.005)"]
    assert got == pytest.approx(want, abs=ref["tolerance"]["category_kappas"])
    assert got == pytest.approx(ref["computed"]["category_kappas"], abs=5e-5)


def test_fleiss_1971_other_coefficients():
    ref = load("fleiss_1971.json")
    t = count_table(np.array(ref["count_table_subjects_x_categories_1to5"]))
    c = ref["computed"]
    assert gwet_ac1(t).value == pytest.approx(c["irrCAC gwet AC1"], abs=5e-5)
    assert brennan_prediger(t).value == pytest.approx(c["irrCAC bp"], abs=5e-5)
    assert krippendorff_alpha(t).value == pytest.approx(c["krippendorff nominal"], abs=5e-5)


def test_fleiss_wikipedia_example():
    ex = load("fleiss_1971.json")["wikipedia_10x14_example"]
    t = count_table(np.array(ex["count_table"]))
    k = fleiss_kappa(t).value
    assert k == pytest.approx(ex["expected_kappa"], abs=5e-3)
    assert k == pytest.approx(ex["computed_statsmodels"], abs=1e-9)


# ---------------------------------------------------------------- two-rater tables

TABLES = load("two_rater_tables_cohen_gwet_bp.json")["examples"]


@pytest.mark.parametrize("name", sorted(TABLES))
def test_two_rater_table(name):
    ex = TABLES[name]
    table = np.array(ex["table"])
    tol = ex["tolerance"]
    exp, comp = ex["expected"], ex["computed"]
    t = table_to_counts(table)
    kappa = cohen_kappa_table(table).value
    ac1 = gwet_ac1(t).value
    bp = brennan_prediger(t).value
    pa = percent_agreement(t).value
    # published values, within the file's tolerance
    for key in ("kappa", "cohen_kappa", "kappa_implied"):
        if key in exp:
            assert kappa == pytest.approx(
                exp[key], abs=max(tol, 5e-4 if key == "cohen_kappa" else tol)
            )
    for key in ("gwet_ac1", "gwet_ac1(DKPro Gwet2008Test)", "gwet_ac1(DKPro)"):
        if key in exp:
            assert ac1 == pytest.approx(exp[key], abs=max(tol, 5e-4))
    if "brennan_prediger" in exp:
        assert bp == pytest.approx(exp["brennan_prediger"], abs=max(tol, 5e-4))
    for key in ("p_o", "pa", "percent_agreement"):
        if key in exp:
            assert pa == pytest.approx(exp[key], abs=max(tol, 5e-4))
    # and the libraries' unrounded values, tightly
    assert kappa == pytest.approx(comp["sklearn.cohen_kappa_score"], abs=1e-9)
    assert ac1 == pytest.approx(comp["gwet_ac1_manual"], abs=1e-9)
    assert bp == pytest.approx(comp["brennan_prediger"], abs=1e-9)
    assert pa == pytest.approx(comp["percent_agreement"], abs=1e-9)
    assert krippendorff_alpha(t).value == pytest.approx(comp["krippendorff_nominal"], abs=1e-9)


def test_kappa_paradox_ac1_stays_high():
    ex = TABLES["paradox_2x2"]
    t = table_to_counts(np.array(ex["table"]))
    assert cohen_kappa_table(np.array(ex["table"])).value < 0.35
    assert gwet_ac1(t).value == pytest.approx(ex["expected"]["gwet_ac1"], abs=ex["tolerance"])


# ---------------------------------------------------------------- unitized alpha


def test_unitized_alpha_k2004_p254():
    ref = load("krippendorff_unitized_alpha.json")["k2004_p254"]
    obs = [[(b, b + n, c) for b, n, c in ref[o]] for o in ("observer_i", "observer_j")]
    res = unitized_alpha(obs, ref["continuum"]["length"], ref["continuum"]["begin"])
    tol = ref["tolerance"]
    assert res["alpha"].value == pytest.approx(ref["expected"]["alpha_U"], abs=tol["alpha_U"])
    assert res["alpha"].value == pytest.approx(
        ref["computed_independent_python"]["alpha_U"], abs=1e-6
    )
    for c in ("c", "k"):
        want = ref["expected"][c]
        got = res["categories"][c]
        assert got["Do"] == pytest.approx(want["Do"], abs=tol["per_category"])
        assert got["De"] == pytest.approx(want["De"], abs=tol["per_category"])
        assert got["alpha"].value == pytest.approx(want["alpha"], abs=tol["per_category"])


def test_unitized_alpha_k2004_distance_checks():
    """The three worked distances of p.254, each isolated as a two-observer continuum."""
    # overlapping c-units: (225,70) vs (220,80) -> 5^2 + 5^2
    one = unitized_alpha([[(225, 295, "c")], [(220, 300, "c")]], 300, 150)
    two = unitized_alpha([[(370, 400, "c")], [(355, 375, "c")]], 300, 150)
    gap = unitized_alpha([[], [(400, 420, "c")]], 300, 150)
    for res, d in ((one, 50), (two, 850), (gap, 400)):
        # Do = 2 * d / (m (m-1) L^2) with m = 2, L = 300
        assert res["categories"]["c"]["Do"] == pytest.approx(2 * d / (2 * 300**2), abs=1e-12)


@pytest.mark.parametrize("name", ["A", "B", "C", "D"])
def test_unitized_alpha_k1995_examples(name):
    ref = load("krippendorff_unitized_alpha.json")["k1995_p57_examples"]
    ex = ref["examples"][name]
    exp = ref["expected_DKPro"]
    tol = exp["tolerance"]

    def run(stretch: int) -> dict:
        obs = [
            [(b * stretch, (b + n) * stretch, "x") for b, n in ex[c]] for c in ("coder1", "coder2")
        ]
        return unitized_alpha(obs, ref["continuum"]["length"] * stretch)["categories"]["x"]

    small, large = run(1), run(50000)
    assert small["Do"] == pytest.approx(exp["Do"][name], abs=tol["Do"])
    assert large["Do"] == pytest.approx(exp["Do"][name], abs=tol["Do"])  # stretch-invariant
    assert large["De"] == pytest.approx(exp["De_large_stretch"][name], abs=tol["De"])
    assert large["alpha"].value == pytest.approx(exp["alpha"][name], abs=tol["alpha"])
    indep = ref["computed_independent_python"]
    assert small["De"] == pytest.approx(indep[f"{name}_stretch1"]["De"], abs=1e-6)
    assert large["alpha"].value == pytest.approx(indep[f"{name}_stretch50000"]["alpha"], abs=1e-4)
