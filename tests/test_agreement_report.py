"""The report: shape, JSON safety, schema validity, null-with-reason edge cases, bootstrap."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from agreement_records import QUOTES, annotation

from annotator.agreement import (
    build_ratings,
    compute_report,
    count_table,
    krippendorff_alpha,
    ratings_from_columns,
)
from annotator.agreement.bootstrap import bootstrap_alpha, rng_for
from annotator.schema import Label, LabelSchema, Layer

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schemas" / "agreement-report.schema.json"

SCHEMA = LabelSchema(
    id="framing",
    version=1,
    title="t",
    layers=(
        Layer(
            "devices",
            "Devices",
            "multi",
            (Label("sov", "S"), Label("agg", "A"), Label("unused", "U")),
        ),
        Layer("stance", "Stance", "single", (Label("pos", "P"), Label("neg", "N"))),
        QUOTES,
    ),
)


def ann(name, devices=(), stance=None, spans=(), relations=()):
    return annotation(name, {"devices": list(devices), "stance": stance}, spans, relations)


def rec(u, *anns, text="x" * 40):
    return {"doc_id": "d", "paragraph": u, "text": text, "annotations": list(anns)}


def random_records(n_units=80, raters=("alice", "bob", "carol"), seed=0, p_missing=0.1, noise=0.1):
    rng = np.random.default_rng(seed)
    out = []
    for u in range(n_units):
        truth_dev = [lab for lab in ("sov", "agg") if rng.random() < 0.35]
        truth_st = ["pos", "neg", None][rng.integers(0, 3)]
        anns = []
        for r in raters:
            if rng.random() < p_missing:
                continue
            dev = [lab for lab in ("sov", "agg") if (lab in truth_dev) != (rng.random() < noise)]
            st = truth_st if rng.random() > noise else ["pos", "neg", None][rng.integers(0, 3)]
            anns.append(ann(r, dev, st, spans=[("s1", "quote", 2, 20 + int(rng.integers(0, 3)))]))
        out.append(rec(u, *anns))
    return out


def strict_json(report):
    return json.loads(json.dumps(report, allow_nan=False))


def validate(report):
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(report)


def walk_nulls(obj, path=""):
    """Every null coefficient must have a reason in its object's `reasons`."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "reasons":
                continue
            if v is None:
                assert k in obj.get("reasons", {}), f"{path}.{k} is null without a reason"
            walk_nulls(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            walk_nulls(v, f"{path}[{i}]")


def no_numpy(obj):
    if isinstance(obj, dict):
        return all(isinstance(k, str) and no_numpy(v) for k, v in obj.items())
    if isinstance(obj, list):
        return all(no_numpy(v) for v in obj)
    if isinstance(obj, float):
        return type(obj) is float and math.isfinite(obj)
    return obj is None or type(obj) in (int, str, bool)


# ---------------------------------------------------------------- shape


def test_report_shape_and_schema():
    rep = compute_report(build_ratings(random_records(), SCHEMA), SCHEMA, bootstrap=200, seed=1)
    assert no_numpy(rep)
    assert strict_json(rep) == rep
    validate(rep)
    walk_nulls(rep)
    assert rep["annotators"] == ["alice", "bob", "carol"]
    assert rep["units"] == 80
    assert list(rep["layers"]) == ["devices", "stance", "quotes"]
    stance = rep["layers"]["stance"]
    assert stance["kind"] == "single"
    for key in (
        "units",
        "percent_agreement",
        "krippendorff_alpha",
        "alpha_ci95",
        "gwet_ac1",
        "fleiss_kappa",
        "cohen_kappa",
    ):
        assert key in stance
    assert stance["cohen_kappa"] is None and "more than two" in stance["reasons"]["cohen_kappa"]
    devices = rep["layers"]["devices"]
    assert set(devices["labels"]) == {"sov", "agg", "unused"}
    sov = devices["labels"]["sov"]
    assert 0.2 < sov["prevalence"] < 0.6
    assert sov["krippendorff_alpha"] > 0.3
    assert set(devices["macro"]) >= {"krippendorff_alpha", "gwet_ac1"}
    quotes = rep["layers"]["quotes"]
    assert quotes["kind"] == "span" and "1995" in quotes["unitized_alpha_definition"]
    assert [(p["a"], p["b"]) for p in rep["pairs"]] == [
        ("alice", "bob"),
        ("alice", "carol"),
        ("bob", "carol"),
    ]
    for p in rep["pairs"]:
        assert "cohen_kappa" in p and p["units"] > 0


def test_schema_rejects_a_broken_report():
    rep = compute_report(build_ratings(random_records(20), SCHEMA), SCHEMA, bootstrap=0)
    rep["layers"]["stance"]["alpha_ci95"] = [0.1]
    with pytest.raises(jsonschema.ValidationError):
        validate(rep)
    del rep["layers"]["stance"]["alpha_ci95"]
    with pytest.raises(jsonschema.ValidationError):
        validate(rep)


def test_macro_is_mean_over_defined_labels():
    rep = compute_report(build_ratings(random_records(), SCHEMA), SCHEMA, bootstrap=0)
    labels = rep["layers"]["devices"]["labels"]
    assert labels["unused"]["krippendorff_alpha"] is None
    want = (labels["sov"]["krippendorff_alpha"] + labels["agg"]["krippendorff_alpha"]) / 2
    macro = rep["layers"]["devices"]["macro"]
    assert macro["krippendorff_alpha"] == pytest.approx(want)
    assert macro["labels_defined"]["krippendorff_alpha"] == 2


def test_two_annotators_layer_cohen_equals_pair_kappa():
    rep = compute_report(
        build_ratings(random_records(raters=("alice", "bob")), SCHEMA), SCHEMA, bootstrap=0
    )
    stance = rep["layers"]["stance"]
    assert stance["cohen_kappa"] is not None
    assert rep["pairs"][0]["layers"]["stance"]["cohen_kappa"] == pytest.approx(
        stance["cohen_kappa"]
    )
    sov = rep["layers"]["devices"]["labels"]["sov"]
    pair_sov = rep["pairs"][0]["layers"]["devices"]["labels"]["sov"]["cohen_kappa"]
    assert pair_sov == pytest.approx(sov["cohen_kappa"])


# ---------------------------------------------------------------- edge cases


def check_safe(rep):
    assert no_numpy(rep)
    strict_json(rep)
    validate(rep)
    walk_nulls(rep)


def test_empty_input():
    for schema in (None, SCHEMA):
        rep = compute_report(build_ratings([], schema), schema)
        check_safe(rep)
        assert rep["units"] == 0 and rep["annotators"] == [] and rep["pairs"] == []
    rep = compute_report(build_ratings([], SCHEMA), SCHEMA)
    assert rep["layers"]["stance"]["krippendorff_alpha"] is None
    assert rep["layers"]["stance"]["reasons"]["krippendorff_alpha"]


def test_one_annotator():
    records = [
        rec(u, ann("alice", ["sov"] if u % 2 else [], "pos" if u % 3 else None)) for u in range(10)
    ]
    rep = compute_report(build_ratings(records, SCHEMA), SCHEMA)
    check_safe(rep)
    stance = rep["layers"]["stance"]
    for key in (
        "percent_agreement",
        "krippendorff_alpha",
        "gwet_ac1",
        "fleiss_kappa",
        "cohen_kappa",
        "alpha_ci95",
    ):
        assert stance[key] is None, key
        assert stance["reasons"][key]
    assert "fewer than two" in stance["reasons"]["cohen_kappa"]
    assert rep["layers"]["quotes"]["unitized_alpha"] is None
    assert rep["pairs"] == []


def test_no_variation_at_all():
    records = [rec(u, ann("alice", ["sov"], "pos"), ann("bob", ["sov"], "pos")) for u in range(10)]
    rep = compute_report(build_ratings(records, SCHEMA), SCHEMA)
    check_safe(rep)
    stance = rep["layers"]["stance"]
    assert stance["percent_agreement"] == 1.0
    assert (
        stance["krippendorff_alpha"] is None
        and "no variation" in stance["reasons"]["krippendorff_alpha"]
    )
    assert stance["fleiss_kappa"] is None and stance["cohen_kappa"] is None
    assert stance["alpha_ci95"] is None and stance["reasons"]["alpha_ci95"]
    # AC1 is defined by its formula here (pe = 0): documented behaviour
    assert stance["gwet_ac1"] == 1.0
    sov = rep["layers"]["devices"]["labels"]["sov"]
    assert sov["prevalence"] == 1.0 and sov["krippendorff_alpha"] is None


def test_label_nobody_used_still_reported():
    rep = compute_report(build_ratings(random_records(30), SCHEMA), SCHEMA, bootstrap=0)
    unused = rep["layers"]["devices"]["labels"]["unused"]
    assert unused["prevalence"] == 0.0
    assert (
        unused["krippendorff_alpha"] is None
        and "no variation" in unused["reasons"]["krippendorff_alpha"]
    )
    assert rep["layers"]["quotes"]["labels"]["source"]["spans"] == 0
    assert rep["layers"]["quotes"]["labels"]["source"]["f1_exact"] is None


def test_annotators_who_never_rated_the_same_unit():
    records = [
        rec(u, ann("alice" if u % 2 else "bob", ["sov"] if u % 3 else [], "pos")) for u in range(12)
    ]
    rep = compute_report(build_ratings(records, SCHEMA), SCHEMA)
    check_safe(rep)
    (pair,) = rep["pairs"]
    assert pair["units"] == 0
    assert pair["cohen_kappa"] is None and "both" in pair["reasons"]["cohen_kappa"]
    stance = rep["layers"]["stance"]
    assert stance["units"] == 0
    assert (
        stance["krippendorff_alpha"] is None
        and "two or more" in stance["reasons"]["krippendorff_alpha"]
    )
    assert stance["cohen_kappa"] is None
    assert rep["layers"]["quotes"]["f1_exact"] is None


def test_inferred_layers_without_schema():
    records = [
        rec(
            0,
            {"annotator": "a", "status": "done", "labels": {"m": ["x"], "s": "p"}},
            {"annotator": "b", "status": "done", "labels": {"m": [], "s": None}},
        ),
        rec(
            1,
            {"annotator": "a", "status": "done", "labels": {"m": ["x", "y"], "s": "p"}},
            {"annotator": "b", "status": "draft", "labels": {"m": ["y"]}},
        ),
    ]
    r = build_ratings(records)
    assert set(r.multi) == {"m"} and set(r.single) == {"s"}
    assert r.multi["m"].labels == ["x", "y"]
    assert r.single["s"].categories == ["p", None]
    assert r.rated.tolist() == [[True, True], [True, False]]  # the draft does not count
    rep = compute_report(r)
    check_safe(rep)


def test_unknown_labels_are_counted_with_a_warning():
    records = [rec(0, ann("a", ["sov", "mystery"], "pos"), ann("b", ["mystery"], "pos"))]
    r = build_ratings(records, SCHEMA)
    assert r.multi["devices"].labels == ["sov", "agg", "unused", "mystery"]
    rep = compute_report(r, SCHEMA, bootstrap=0)
    assert "mystery" in rep["layers"]["devices"]["labels"]
    assert any("mystery" in w for w in rep["warnings"])


def test_columns_validate_their_input():
    with pytest.raises(ValueError):
        ratings_from_columns(3, ["a"], {"a": np.array([3])}, {}, {}, None)
    with pytest.raises(ValueError):
        ratings_from_columns(3, ["a"], {"b": np.array([0])}, {}, {}, None)


def test_columns_count_only_done_units():
    r = ratings_from_columns(
        4,
        ["a", "b"],
        {"a": np.array([0, 1, 2]), "b": np.array([0, 1])},
        {"m": {"x": {"a": np.array([0, 3]), "b": np.array([0, 2])}}},
        {"s": {"p": {"a": np.array([1, 3])}}},
        None,
    )
    assert r.multi["m"].on[:, :, 0].tolist() == [
        [True, True],
        [False, False],
        [False, False],
        [False, False],
    ]
    assert r.single["s"].codes.tolist() == [[1, 1], [0, 1], [1, -1], [-1, -1]]


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_reproducible_and_seed_dependent():
    records = random_records(120, seed=4)
    ratings = build_ratings(records, SCHEMA)
    a = compute_report(ratings, SCHEMA, bootstrap=300, seed=7)
    b = compute_report(ratings, SCHEMA, bootstrap=300, seed=7)
    c = compute_report(ratings, SCHEMA, bootstrap=300, seed=8)
    ci = lambda rep: rep["layers"]["stance"]["alpha_ci95"]  # noqa: E731
    assert ci(a) == ci(b)
    assert ci(a) != ci(c)
    assert a == b


def test_ci_contains_point_estimate_and_narrows_with_more_units():
    small = compute_report(build_ratings(random_records(60, seed=2), SCHEMA), SCHEMA, bootstrap=500)
    large = compute_report(
        build_ratings(random_records(600, seed=2), SCHEMA), SCHEMA, bootstrap=500
    )
    for rep in (small, large):
        for obj in (rep["layers"]["stance"], rep["layers"]["devices"]["labels"]["sov"]):
            lo, hi = obj["alpha_ci95"]
            assert lo < obj["krippendorff_alpha"] < hi
    lo_s, hi_s = small["layers"]["stance"]["alpha_ci95"]
    lo_l, hi_l = large["layers"]["stance"]["alpha_ci95"]
    assert hi_l - lo_l < hi_s - lo_s


def test_bootstrap_zero_gives_null_with_reason():
    rep = compute_report(build_ratings(random_records(30), SCHEMA), SCHEMA, bootstrap=0)
    stance = rep["layers"]["stance"]
    assert stance["krippendorff_alpha"] is not None
    assert stance["alpha_ci95"] is None and "bootstrap" in stance["reasons"]["alpha_ci95"]


def test_bootstrap_matches_unit_resampling_distribution():
    """Multinomial over distinct count rows == resampling units: compare with a plain loop."""
    rng = np.random.default_rng(0)
    counts = np.stack([rng.integers(0, 3, 400), rng.integers(0, 2, 400)], axis=1)
    counts = counts[counts.sum(axis=1) >= 2]
    t = count_table(counts)
    ours = bootstrap_alpha(t, 2000, rng_for(1, "x"))
    plain_rng = np.random.default_rng(2)
    plain = []
    for _ in range(2000):
        idx = plain_rng.integers(0, len(counts), len(counts))
        plain.append(krippendorff_alpha(count_table(counts[idx])).value)
    assert np.mean(ours) == pytest.approx(np.mean(plain), abs=0.01)
    assert np.std(ours) == pytest.approx(np.std(plain), rel=0.1)


def test_bootstrap_many_distinct_rows_path():
    """Many annotators and categories: the unit-index path gives the same distribution."""
    rng = np.random.default_rng(3)
    counts = rng.multinomial(12, [0.4, 0.3, 0.2, 0.1], size=300)
    t = count_table(counts)
    assert len(t.weights) > 300 // 8  # forces the index-resampling path
    ours = bootstrap_alpha(t, 1500, rng_for(0, "y"))
    point = krippendorff_alpha(t).value
    assert np.all(np.isfinite(ours))
    assert np.mean(ours) == pytest.approx(point, abs=0.01)
    plain_rng = np.random.default_rng(5)
    plain = [
        krippendorff_alpha(count_table(counts[plain_rng.integers(0, 300, 300)])).value
        for _ in range(1500)
    ]
    assert np.std(ours) == pytest.approx(np.std(plain), rel=0.12)
