"""Span layers: exact / overlap F1, relations, and unitized alpha (also against a plain
implementation of Krippendorff's 1995/2004 definition)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agreement_records import QUOTES, annotation, labels, schema_of
from hypothesis import given, settings
from hypothesis import strategies as st

from annotator.agreement import build_ratings, compute_report, unitized_alpha_sections
from annotator.agreement.spans import greedy_overlap_matches
from annotator.schema import Layer

DATA = Path(__file__).parent / "data" / "agreement"

SCHEMA = schema_of(QUOTES, id="q")


def ann(name, spans, relations=()):
    return annotation(name, {}, spans, relations)


def rec(u, *anns, length=60):
    return {"doc_id": "d", "paragraph": u, "text": "x" * length, "annotations": list(anns)}


def report(records, schema=SCHEMA):
    return compute_report(build_ratings(records, schema), schema, bootstrap=0)


def test_exact_and_overlap_f1_per_label_and_overall():
    a = ann("a", [("1", "quote", 0, 10), ("2", "quote", 20, 30), ("3", "source", 40, 45)])
    b = ann("b", [("1", "quote", 0, 10), ("2", "quote", 22, 35), ("3", "source", 50, 55)])
    q = report([rec(0, a, b)])["layers"]["quotes"]
    assert q["labels"]["quote"]["f1_exact"] == pytest.approx(0.5)
    assert q["labels"]["quote"]["f1_overlap"] == pytest.approx(1.0)
    assert q["labels"]["source"]["f1_exact"] == 0.0
    assert q["labels"]["source"]["f1_overlap"] == 0.0
    assert q["f1_exact"] == pytest.approx(1 / 3)
    assert q["f1_overlap"] == pytest.approx(2 / 3)
    assert q["labels"]["quote"]["spans"] == 4 and q["spans"] == 6


def test_overlap_matching_is_one_to_one_largest_first():
    assert greedy_overlap_matches([(0, 10)], [(0, 4), (5, 10)]) == [(0, 1)]
    assert greedy_overlap_matches([(0, 10), (3, 6)], [(2, 7)]) == [(0, 0)]
    a = ann("a", [("1", "quote", 0, 10)])
    b = ann("b", [("1", "quote", 0, 4), ("2", "quote", 5, 10)])
    q = report([rec(0, a, b)])["layers"]["quotes"]
    assert q["precision_overlap"] == pytest.approx(1.0)
    assert q["recall_overlap"] == pytest.approx(0.5)
    assert q["f1_overlap"] == pytest.approx(2 / 3)
    assert q["f1_exact"] == 0.0


def test_only_units_both_marked_done_count():
    a0 = ann("a", [("1", "quote", 0, 10)])
    b0 = ann("b", [("1", "quote", 0, 10)])
    a1 = ann("a", [("1", "quote", 5, 9), ("2", "source", 1, 3)])  # bob never saw unit 1
    q = report([rec(0, a0, b0), rec(1, a1)])["layers"]["quotes"]
    assert q["f1_exact"] == 1.0
    assert q["labels"]["source"]["f1_exact"] is None
    assert q["labels"]["source"]["reasons"]["f1_exact"]


def test_f1_averaged_over_pairs():
    a = ann("a", [("1", "quote", 0, 10)])
    b = ann("b", [("1", "quote", 0, 10)])
    c = ann("c", [("1", "quote", 0, 9)])
    rep = report([rec(0, a, b, c)])
    q = rep["layers"]["quotes"]
    assert q["f1_exact"] == pytest.approx((1 + 0 + 0) / 3)
    assert q["f1_overlap"] == 1.0
    assert [p["layers"]["quotes"]["f1_exact"] for p in rep["pairs"]] == [1.0, 0.0, 0.0]


def test_relations_match_when_endpoints_overlap_and_label_equal():
    a = ann("a", [("q", "quote", 0, 10), ("s", "source", 40, 45)], [("attributed_to", "q", "s")])
    b = ann("b", [("x", "quote", 2, 10), ("y", "source", 41, 46)], [("attributed_to", "x", "y")])
    c = ann("c", [("x", "quote", 2, 10), ("y", "source", 50, 55)], [("attributed_to", "x", "y")])
    rel = report([rec(0, a, b)])["layers"]["quotes"]["relations"]
    assert rel["f1"] == 1.0 and rel["labels"]["attributed_to"]["f1"] == 1.0
    assert rel["relations"] == 2
    rel = report([rec(0, a, c)])["layers"]["quotes"]["relations"]
    assert rel["f1"] == 0.0


def test_relation_to_missing_span_is_ignored_with_warning():
    a = ann("a", [("q", "quote", 0, 10)], [("attributed_to", "q", "nope")])
    b = ann("b", [("q", "quote", 0, 10)])
    rep = report([rec(0, a, b)])
    assert rep["layers"]["quotes"]["relations"]["relations"] == 0
    assert any("missing span" in w for w in rep["warnings"])


def test_unitized_alpha_through_report_reproduces_k2004():
    ref = json.loads((DATA / "krippendorff_unitized_alpha.json").read_text())["k2004_p254"]
    begin, length = ref["continuum"]["begin"], ref["continuum"]["length"]
    schema = schema_of(Layer("u", "u", "span", labels("c", "k")), id="k")

    def obs(name, units):
        return {
            "annotator": name,
            "status": "done",
            "labels": {},
            "spans": [
                {"id": str(i), "layer": "u", "label": c, "start": b - begin, "end": b - begin + n}
                for i, (b, n, c) in enumerate(units)
            ],
        }

    records = [
        {
            "doc_id": "k",
            "paragraph": 0,
            "text": "x" * length,
            "annotations": [obs("i", ref["observer_i"]), obs("j", ref["observer_j"])],
        }
    ]
    rep = compute_report(build_ratings(records, schema), schema, bootstrap=0)
    lay = rep["layers"]["u"]
    assert lay["unitized_alpha"] == pytest.approx(
        ref["computed_independent_python"]["alpha_U"], abs=1e-6
    )
    assert lay["unitized_alpha"] == pytest.approx(
        ref["expected"]["alpha_U"], abs=ref["tolerance"]["alpha_U"]
    )
    assert lay["labels"]["c"]["unitized_alpha"] == pytest.approx(
        ref["expected"]["c"]["alpha"], abs=1e-4
    )
    assert lay["labels"]["k"]["unitized_alpha"] == pytest.approx(1.0)
    assert lay["unitized_alpha_units"] == 1
    assert rep["pairs"][0]["layers"]["u"]["unitized_alpha"] == pytest.approx(lay["unitized_alpha"])


def test_unitized_alpha_uses_units_done_by_all_and_keeps_units_apart():
    a0 = ann("a", [("1", "quote", 50, 60)], ())
    b0 = ann("b", [("1", "quote", 50, 58)], ())
    a1 = ann("a", [("1", "quote", 0, 5)], ())
    b1 = ann("b", [("1", "quote", 0, 7)], ())
    a2 = ann("a", [("1", "quote", 0, 30)], ())  # only a: excluded from alpha_U
    rep = report([rec(0, a0, b0), rec(1, a1, b1), rec(2, a2)])
    lay = rep["layers"]["quotes"]
    assert lay["unitized_alpha_units"] == 2
    # unit 1 starts at offset 60 of the concatenated continuum; its gaps stop at 60
    want = unitized_alpha_sections(
        [[(50, 60, "quote"), (60, 65, "quote")], [(50, 58, "quote"), (60, 67, "quote")]],
        [(0, 60), (60, 120)],
        categories=["quote", "source"],
    )
    assert lay["unitized_alpha"] == pytest.approx(want["alpha"].value)
    assert lay["labels"]["source"]["unitized_alpha"] is None


def test_overlapping_spans_of_one_annotator_are_merged():
    a = ann("a", [("1", "quote", 0, 10), ("2", "quote", 5, 15)])
    b = ann("b", [("1", "quote", 0, 15)])
    lay = report([rec(0, a, b)])["layers"]["quotes"]
    assert lay["labels"]["quote"]["unitized_alpha"] == pytest.approx(1.0)


def test_identical_unitizing_gives_one_and_spans_out_of_text_are_clipped():
    a = ann("a", [("1", "quote", 3, 200)])
    b = ann("b", [("1", "quote", 3, 60)])
    lay = report([rec(0, a, b, length=60)])["layers"]["quotes"]
    assert lay["unitized_alpha"] == pytest.approx(1.0)


def test_columns_have_no_span_data_reason():
    from annotator.agreement import ratings_from_columns

    r = ratings_from_columns(2, ["a", "b"], {"a": [0, 1], "b": [0, 1]}, {}, {}, SCHEMA)
    lay = compute_report(r, SCHEMA, bootstrap=0)["layers"]["quotes"]
    assert lay["unitized_alpha"] is None and "export records" in lay["reasons"]["unitized_alpha"]


# ---------------------------------------------------------------- plain alpha_U


def plain_alpha_u(observers, sections, categories):
    """Krippendorff (1995/2004) alpha_U written straight from the definition, with loops."""

    def segments(units):
        out = []
        for s0, s1 in sections:
            pos = s0
            for b, e in sorted(u for u in units if s0 <= u[0] < s1):
                if b > pos:
                    out.append((pos, b - pos, False))
                out.append((b, e - b, True))
                pos = e
            if pos < s1:
                out.append((pos, s1 - pos, False))
        return out

    def d2(g, h):
        bg, lg, ug = g
        bh, lh, uh = h
        if ug and uh and -lg < bg - bh < lh:
            return (bg - bh) ** 2 + (bg + lg - bh - lh) ** 2
        if ug and not uh and lh - lg >= bg - bh >= 0:
            return lg**2
        if not ug and uh and lg - lh >= bh - bg >= 0:
            return lh**2
        return 0

    m = len(observers)
    L = sum(s1 - s0 for s0, s1 in sections)
    sum_do = sum_de = 0.0
    for c in categories:
        segs = []
        for units in observers:
            mine = sorted((b, e) for b, e, cc in units if cc == c)
            merged = []
            for b, e in mine:
                if merged and b < merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], e))
                else:
                    merged.append((b, e))
            segs.append(segments(merged))
        do = 0.0
        for i in range(m):
            for j in range(m):
                if i != j:
                    for g in segs[i]:
                        for h in segs[j]:
                            do += d2(g, h)
        do /= m * (m - 1) * L * L
        units = [s for ss in segs for s in ss if s[2]]
        gaps = [s for ss in segs for s in ss if not s[2]]
        num = 0.0
        for _, ln, _ in units:
            num += (len(units) - 1) * (2 * ln**3 - 3 * ln**2 + ln) / 3
            num += ln**2 * sum(lh - ln + 1 for _, lh, _ in gaps if lh >= ln)
        den = m * L * (m * L - 1) - sum(ln * (ln - 1) for _, ln, _ in units)
        de = 2 / L * num / den if units else 0.0
        sum_do += do
        sum_de += de
    return None if sum_de == 0 else 1 - sum_do / sum_de


@st.composite
def unitizings(draw):
    n_sec = draw(st.integers(1, 3))
    lengths = [draw(st.integers(5, 40)) for _ in range(n_sec)]
    sections, pos = [], 0
    for n in lengths:
        sections.append((pos, pos + n))
        pos += n
    m = draw(st.integers(2, 4))
    observers = []
    for _ in range(m):
        units = []
        for s0, s1 in sections:
            for _ in range(draw(st.integers(0, 3))):
                b = draw(st.integers(s0, s1 - 1))
                e = draw(st.integers(b + 1, s1))
                units.append((b, e, draw(st.sampled_from(["c", "k"]))))
        observers.append(units)
    return observers, sections


@settings(max_examples=150, deadline=None)
@given(unitizings())
def test_unitized_alpha_matches_plain_definition(data):
    observers, sections = data
    ours = unitized_alpha_sections(observers, sections, categories=["c", "k"])["alpha"].value
    plain = plain_alpha_u(observers, sections, ["c", "k"])
    if plain is None:
        assert ours is None
    else:
        assert ours == pytest.approx(plain, rel=1e-9, abs=1e-9)


def test_no_spans_over_many_sections_equals_one_stretch():
    """The report's shortcut for a span layer nobody used (one stretch instead of one
    section per unit) must give what the sections give."""
    from annotator.agreement.spans import unitized_alpha_sections

    lengths = [7, 0, 13, 1, 40, 2]
    bounds, at = [], 0
    for n in lengths:
        bounds.append((at, at + n))
        at += n
    for m in (1, 2, 3):
        sections = unitized_alpha_sections([[] for _ in range(m)], bounds, categories=[0, 1])
        stretch = unitized_alpha_sections([[] for _ in range(m)], [(0, at)], categories=[0, 1])
        assert sections == stretch
