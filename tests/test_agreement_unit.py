"""The per-unit `agreement` export field and the terminal table."""

from __future__ import annotations

import json

from annotator.agreement import build_ratings, compute_report, format_table, unit_agreement
from annotator.schema import Label, LabelSchema, Layer

SCHEMA = LabelSchema(
    id="f",
    version=1,
    title="f",
    layers=(
        Layer("devices", "D", "multi", (Label("sov", "S"), Label("agg", "A"))),
        Layer("stance", "St", "single", (Label("positive", "P"), Label("negative", "N"))),
    ),
)


def ann(name, devices, stance, status="done"):
    return {"annotator": name, "status": status, "labels": {"devices": devices, "stance": stance}}


def test_unit_agreement_majority_shares():
    anns = [
        ann("a", ["sov"], "positive"),
        ann("b", ["sov", "agg"], "positive"),
        ann("c", [], "negative"),
    ]
    got = unit_agreement(anns, SCHEMA)
    assert got["annotators"] == 3
    assert got["labels"]["devices"] == {"sov": 0.6667, "agg": 0.6667}
    assert got["labels"]["stance"] == {"positive": 0.6667}
    assert json.dumps(got, allow_nan=False)


def test_unit_agreement_product_example_and_none():
    got = unit_agreement([ann("alice", ["sovereignty"], None), ann("bob", ["sovereignty"], None)])
    assert got == {
        "annotators": 2,
        "labels": {"devices": {"sovereignty": 1.0}, "stance": {"(none)": 1.0}},
    }


def test_unit_agreement_ties_and_not_done():
    anns = [
        ann("a", [], "negative"),
        ann("b", [], "positive"),
        ann("c", ["agg"], "positive", status="draft"),
    ]
    got = unit_agreement(anns, SCHEMA)
    assert got["annotators"] == 2
    assert got["labels"]["devices"] == {}  # nobody (done) used a label: all agree it is off
    assert got["labels"]["stance"] == {"positive": 0.5}  # tie: schema order decides the key
    assert unit_agreement([], SCHEMA) == {"annotators": 0, "labels": {}}


def test_format_table_shows_values_and_dashes():
    records = [
        {
            "doc_id": "d",
            "paragraph": u,
            "text": "t",
            "annotations": [
                ann("alice", ["sov"] if u % 2 else [], "positive" if u % 3 else "negative"),
                ann("bob", ["sov"] if u % 2 or u == 4 else [], "positive" if u % 3 else None),
            ],
        }
        for u in range(12)
    ]
    rep = compute_report(build_ratings(records, SCHEMA), SCHEMA, bootstrap=100)
    text = format_table(rep)
    sov = rep["layers"]["devices"]["labels"]["sov"]
    assert f"{sov['krippendorff_alpha']:.3f}" in text
    assert f"{rep['layers']['stance']['krippendorff_alpha']:.3f}" in text
    agg_line = next(line for line in text.splitlines() if line.startswith("agg"))
    assert "—" in agg_line  # agg never used: alpha undefined
    assert "alice / bob" in text
    assert "no variation" in text
    assert "nan" not in text.lower()
    for line in text.splitlines():
        assert len(line) <= 120
