"""Property tests: random ratings with missing values against the krippendorff package and
against plain brute-force implementations written here with loops."""

from __future__ import annotations

import itertools
import warnings

import krippendorff
import numpy as np
import pytest
from agreement_records import labels, schema_of
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from annotator.agreement import (
    build_ratings,
    cohen_kappa_table,
    compute_report,
    count_table,
    counts_from_ratings,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    percent_agreement,
    ratings_from_columns,
)
from annotator.schema import Layer


@st.composite
def rating_matrices(draw, min_raters=2, max_raters=5, max_cats=4, max_units=25):
    """units x raters, values 0..q-1 or None."""
    n_raters = draw(st.integers(min_raters, max_raters))
    n_units = draw(st.integers(1, max_units))
    q = draw(st.integers(2, max_cats))
    p_missing = draw(st.sampled_from([0.0, 0.1, 0.3, 0.6]))
    cell = st.one_of(st.integers(0, q - 1), st.none()) if p_missing else st.integers(0, q - 1)
    rows = draw(
        st.lists(
            st.lists(cell, min_size=n_raters, max_size=n_raters), min_size=n_units, max_size=n_units
        )
    )
    return rows, q


# ---------------------------------------------------------------- brute force, plainly


def bf_pairable(rows):
    return [
        [v for v in row if v is not None] for row in rows if sum(v is not None for v in row) >= 2
    ]


def bf_percent(rows):
    units = bf_pairable(rows)
    if not units:
        return None
    total = 0.0
    for vals in units:
        agree = pairs = 0
        for i in range(len(vals)):
            for j in range(len(vals)):
                if i != j:
                    pairs += 1
                    agree += vals[i] == vals[j]
        total += agree / pairs
    return total / len(units)


def bf_shares(rows, q):
    rated = [[v for v in row if v is not None] for row in rows]
    rated = [r for r in rated if r]
    pi = []
    for k in range(q):
        s = 0.0
        for vals in rated:
            s += sum(1 for v in vals if v == k) / len(vals)
        pi.append(s / len(rated))
    return pi


def bf_ac1(rows, q):
    pa = bf_percent(rows)
    if pa is None or q < 2:  # a one-category scale has no chance agreement to correct
        return None
    pi = bf_shares(rows, q)
    pe = sum(p * (1 - p) for p in pi) / (q - 1)
    return (pa - pe) / (1 - pe)


def bf_fleiss_complete(rows, q, n_raters):
    full = [row for row in rows if all(v is not None for v in row)]
    if not full or n_raters < 2:
        return None
    pa = 0.0
    for row in full:
        agree = 0
        for i in range(n_raters):
            for j in range(n_raters):
                if i != j and row[i] == row[j]:
                    agree += 1
        pa += agree / (n_raters * (n_raters - 1))
    pa /= len(full)
    pe = 0.0
    for k in range(q):
        p = sum(1 for row in full for v in row if v == k) / (len(full) * n_raters)
        pe += p * p
    if abs(1 - pe) < 1e-12:
        return None
    return (pa - pe) / (1 - pe)


def bf_cohen(rows, q):
    both = [(r[0], r[1]) for r in rows if r[0] is not None and r[1] is not None]
    if not both:
        return None
    n = len(both)
    po = sum(1 for a, b in both if a == b) / n
    pe = 0.0
    for k in range(q):
        pe += (sum(1 for a, _ in both if a == k) / n) * (sum(1 for _, b in both if b == k) / n)
    if abs(1 - pe) < 1e-12:
        return None
    return (po - pe) / (1 - pe)


def table_of(rows, q):
    counts, _ = counts_from_ratings(rows, categories=list(range(q)))
    return count_table(counts)


def close(a, b, tol=1e-9):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol


# ---------------------------------------------------------------- properties


@settings(max_examples=200, deadline=None)
@given(rating_matrices())
def test_alpha_matches_krippendorff_package(data):
    rows, q = data
    reliability = np.array(
        [[np.nan if v is None else v for v in row] for row in rows], dtype=float
    ).T
    values = {v for row in rows for v in row if v is not None}
    pairable = bf_pairable(rows)
    ours = krippendorff_alpha(table_of(rows, q))
    if not pairable or len({v for vals in pairable for v in vals}) < 2:
        assert ours.value is None and ours.reason
        return
    assume(len(values) >= 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal")
    assert ours.value == pytest.approx(theirs, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(rating_matrices())
def test_percent_ac1_fleiss_against_brute_force(data):
    rows, q = data
    t = table_of(rows, q)
    assert close(percent_agreement(t).value, bf_percent(rows))
    assert close(gwet_ac1(t, n_categories=q).value, bf_ac1(rows, q))
    n_raters = len(rows[0])
    assert close(fleiss_kappa(t, n_raters=n_raters).value, bf_fleiss_complete(rows, q, n_raters))


@settings(max_examples=200, deadline=None)
@given(rating_matrices(min_raters=2, max_raters=2))
def test_cohen_against_brute_force(data):
    rows, q = data
    table = np.zeros((q, q), int)
    for a, b in rows:
        if a is not None and b is not None:
            table[a, b] += 1
    assert close(cohen_kappa_table(table).value, bf_cohen(rows, q))


def records_from_rows(rows, raters):
    """One export record per row; rater r's value v as single layer "v": c{v}, 0 = no label."""
    records = []
    for u, row in enumerate(rows):
        anns = []
        for name, v in zip(raters, row, strict=True):
            if v is None:
                continue
            value = None if v == 0 else f"c{v}"
            anns.append({"annotator": name, "status": "done", "labels": {"v": value}})
        records.append({"doc_id": "d", "paragraph": u, "text": "t", "annotations": anns})
    return records


@settings(max_examples=60, deadline=None)
@given(rating_matrices(max_cats=4))
def test_report_single_layer_matches_brute_force(data):
    """Through records and the report: value 0 is "no label chosen", a category of its own."""
    rows, q = data
    raters = [f"r{i}" for i in range(len(rows[0]))]
    schema = schema_of(Layer("v", "v", "single", labels(*(f"c{k}" for k in range(1, q)))))
    rep = compute_report(
        build_ratings(records_from_rows(rows, raters), schema), schema, bootstrap=0
    )
    lay = rep["layers"]["v"]
    # categories in the report: c1..c{q-1}, then none; relabel 0 -> q-1 for the brute force
    relabel = [[None if v is None else (q - 1 if v == 0 else v - 1) for v in row] for row in rows]
    active = [i for i in range(len(raters)) if any(row[i] is not None for row in rows)]
    sub = [[row[i] for i in active] for row in relabel]
    assert close(lay["percent_agreement"], bf_percent(relabel))
    # AC1's scale counts "none" only when some rating chose no label
    none_used = any(v == 0 for row in rows for v in row)
    assert close(lay["gwet_ac1"], bf_ac1(relabel, q if none_used else q - 1))
    assert close(lay["fleiss_kappa"], bf_fleiss_complete(sub, q, len(active)))
    if len(active) == 2:
        assert close(lay["cohen_kappa"], bf_cohen(sub, q))
    else:
        assert lay["cohen_kappa"] is None and lay["reasons"]["cohen_kappa"]
    for pair in rep["pairs"]:
        i, j = raters.index(pair["a"]), raters.index(pair["b"])
        two = [(row[i], row[j]) for row in relabel]
        assert close(pair["layers"]["v"]["cohen_kappa"], bf_cohen(two, q))
        assert pair["units"] == sum(1 for a, b in two if a is not None and b is not None)


@settings(max_examples=40, deadline=None)
@given(rating_matrices(max_cats=8))
def test_records_and_columns_give_identical_reports(data):
    rows, q = data
    raters = [f"r{i}" for i in range(len(rows[0]))]
    schema = schema_of(
        Layer("m", "m", "multi", labels(*(f"l{k}" for k in range(3)))),
        Layer("s", "s", "single", labels(*(f"c{k}" for k in range(1, 8)))),
    )
    records = []
    done = {r: [] for r in raters}
    multi = {"m": {f"l{k}": {r: [] for r in raters} for k in range(3)}}
    single = {"s": {f"c{k}": {r: [] for r in raters} for k in range(1, 8)}}
    for u, row in enumerate(rows):
        anns = []
        for name, v in zip(raters, row, strict=True):
            if v is None:
                continue
            on = [f"l{k}" for k in range(3) if (v >> k) & 1]
            choice = None if v == 0 else f"c{v}"
            anns.append({"annotator": name, "status": "done", "labels": {"m": on, "s": choice}})
            done[name].append(u)
            for lab in on:
                multi["m"][lab][name].append(u)
            if choice:
                single["s"][choice][name].append(u)
        records.append({"doc_id": "d", "paragraph": u, "text": "t", "annotations": anns})
    a = compute_report(build_ratings(records, schema), schema, bootstrap=50, seed=3)
    arrays = lambda d: {k: np.array(v, dtype=np.int64) for k, v in d.items()}  # noqa: E731
    cols = ratings_from_columns(
        len(rows),
        raters,
        arrays(done),
        {lay: {lab: arrays(per) for lab, per in labs.items()} for lay, labs in multi.items()},
        {lay: {lab: arrays(per) for lab, per in labs.items()} for lay, labs in single.items()},
        schema,
    )
    b = compute_report(cols, schema, bootstrap=50, seed=3)
    # build_ratings lists only annotators with a done unit; the columns list all of them
    if a["annotators"] == b["annotators"]:
        assert a == b
    else:
        assert a["layers"] == b["layers"]


def test_brute_force_helpers_fail_on_wrong_values():
    """Guard: the brute-force references are not vacuous."""
    rows = [[0, 0], [1, 1], [0, 1], [1, 0], [1, 1]]
    assert bf_cohen(rows, 2) == pytest.approx(1 / 6)
    assert bf_percent(rows) == pytest.approx(0.6)
    assert not close(bf_ac1(rows, 2), 0.0)
    assert list(itertools.chain(*bf_pairable([[0, None], [1, 1]]))) == [1, 1]


@pytest.mark.parametrize("n_cat,max_count", [(3, 4), (40, 30)])
def test_count_table_groups_rows_exactly(n_cat, max_count):
    """Both grouping paths (exact integer code; hashed code for many categories)."""
    rng = np.random.default_rng(n_cat)
    counts = rng.multinomial(max_count, [1 / n_cat] * n_cat, size=3000)
    counts = np.vstack([counts, counts[:500], np.zeros((7, n_cat), int)])  # repeats, unrated
    t = count_table(counts)
    want_rows, want_w = np.unique(counts[counts.sum(axis=1) > 0], axis=0, return_counts=True)
    order = np.lexsort(t.rows.T[::-1])
    assert np.array_equal(t.rows[order], want_rows)
    assert np.array_equal(t.weights[order], want_w)
    assert t.weights.sum() == 3500
