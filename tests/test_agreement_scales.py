"""Ordered scales, sets and Fleiss with missing ratings against independent
implementations on random data with missing ratings: Krippendorff's alpha (ordinal,
interval) against the `krippendorff` package, Gwet's AC2 and Fleiss' kappa with Gwet's
missing-data extension against irrCAC, weighted kappa against scikit-learn, MASI alpha
against NLTK."""

from __future__ import annotations

import warnings

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from irrCAC.raw import CAC
from sklearn.metrics import cohen_kappa_score

from annotator.agreement import count_table, counts_from_ratings, fleiss_kappa
from annotator.agreement.coefficients import (
    agreement_weights,
    cohen_kappa_weighted,
    gwet_ac2,
    krippendorff_alpha_level,
    masi_alpha,
)


@st.composite
def ordinal_data(draw, min_raters=2, max_raters=5):
    q = draw(st.integers(3, 6))
    raters = draw(st.integers(min_raters, max_raters))
    units = draw(st.integers(2, 30))
    missing = draw(st.sampled_from([0.0, 0.2, 0.5]))
    cell = st.one_of(st.integers(0, q - 1), st.none()) if missing else st.integers(0, q - 1)
    rows = draw(st.lists(st.lists(cell, min_size=raters, max_size=raters),
                         min_size=units, max_size=units))
    return rows, q


def table(rows, q):
    counts, _ = counts_from_ratings(rows, categories=list(range(q)))
    return count_table(counts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(ordinal_data(), st.sampled_from(["ordinal", "interval"]))
def test_alpha_at_level_matches_krippendorff_package(data, level):
    rows, q = data
    ours = krippendorff_alpha_level(table(rows, q), level).value
    matrix = np.array([[np.nan if v is None else float(v) for v in row] for row in rows]).T
    pairable = sum(sum(v is not None for v in row) >= 2 for row in rows)
    assume(pairable > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            theirs = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level,
                                        value_domain=list(range(q)))
        except (ValueError, ZeroDivisionError):
            theirs = float("nan")
    if ours is None:
        assert not np.isfinite(theirs) or abs(theirs) > 1e6 or theirs == 1.0
    else:
        assert ours == pytest.approx(theirs, abs=1e-9)


def irr(rows, q, weights):
    df = pd.DataFrame([[np.nan if v is None else v + 1 for v in row] for row in rows])
    return CAC(df, weights=weights, categories=list(range(1, q + 1)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(ordinal_data(), st.sampled_from(["linear", "quadratic"]))
def test_ac2_matches_irrcac(data, weights):
    rows, q = data
    t = table(rows, q)
    ours = gwet_ac2(t, agreement_weights(weights, q))
    assume(ours.value is not None)
    assume(sum(any(v is not None for v in row) for row in rows) == len(rows))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = irr(rows, q, weights).gwet()["est"]
    assert ours.value == pytest.approx(theirs["coefficient_value"], abs=1e-5)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(ordinal_data())
def test_fleiss_missing_data_extension_matches_irrcac(data):
    rows, q = data
    ours = fleiss_kappa(table(rows, q), missing="gwet")
    assume(ours.value is not None)
    assume(sum(any(v is not None for v in row) for row in rows) == len(rows))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = irr(rows, q, "identity").fleiss()["est"]
    assert ours.value == pytest.approx(theirs["coefficient_value"], abs=1e-5)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(ordinal_data(min_raters=2, max_raters=2), st.sampled_from(["linear", "quadratic"]))
def test_weighted_kappa_matches_scikit_learn(data, weights):
    rows, q = data
    both = [(a, b) for a, b in rows if a is not None and b is not None]
    assume(both)
    tab = np.zeros((q, q))
    for a, b in both:
        tab[a, b] += 1
    ours = cohen_kappa_weighted(tab, agreement_weights(weights, q))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = cohen_kappa_score([a for a, _ in both], [b for _, b in both],
                                   labels=list(range(q)), weights=weights)
    if ours.value is None:
        assert not np.isfinite(theirs)
    else:
        assert ours.value == pytest.approx(theirs, abs=1e-9)


@st.composite
def label_sets(draw):
    n_lab = draw(st.integers(1, 4))
    raters = draw(st.integers(2, 4))
    units = draw(st.integers(2, 15))
    # each value a non-empty set (a bit mask): NLTK cannot take two empty sets
    masks = np.array(draw(st.lists(st.lists(st.integers(1, 2**n_lab - 1), min_size=raters,
                                            max_size=raters),
                                   min_size=units, max_size=units)))
    on = ((masks[:, :, None] >> np.arange(n_lab)) & 1).astype(bool)
    rated = np.array(draw(st.lists(st.lists(st.booleans(), min_size=raters, max_size=raters),
                                   min_size=units, max_size=units)))
    return on & rated[:, :, None], rated


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(label_sets())
def test_masi_alpha_matches_nltk(data):
    """NLTK's masi_distance divides by zero on two empty sets: on data without empty
    sets, our alpha is NLTK's."""
    from nltk.metrics.agreement import AnnotationTask
    from nltk.metrics.distance import masi_distance

    on, rated = data
    ours, _ = masi_alpha(on, rated)
    triples = [(f"c{a}", f"u{u}", frozenset(np.flatnonzero(on[u, a]).tolist()))
               for u in range(on.shape[0]) for a in range(on.shape[1])
               if rated[u, a] and rated[u].sum() >= 2]
    assume(ours.value is not None and triples)
    task = AnnotationTask(data=triples, distance=masi_distance)
    assert ours.value == pytest.approx(task.alpha(), abs=1e-9)


def test_masi_two_empty_sets_are_identical():
    from annotator.agreement.coefficients import masi_distances

    empty = np.zeros((1, 3), bool)
    one = np.array([[True, False, False]])
    assert masi_distances(empty, empty)[0] == 0.0 and masi_distances(empty, one)[0] == 1.0
    on = np.zeros((3, 2, 3), bool)
    on[0, :, 0] = True  # unit 0: both {a}; units 1, 2: both empty
    alpha, units = masi_alpha(on, np.ones((3, 2), bool))
    assert units == 3 and alpha.value == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 400), st.integers(0, 2**32 - 1))
def test_masi_expected_by_subsets_is_the_pairwise_sum(n_lab, n_sets, seed):
    """With many distinct sets (a million units) the expected disagreement is counted
    from superset sums over the 2**L subsets instead of the distinct sets x distinct
    sets matrix: it equals the pairwise sum (masi_distances, checked against NLTK
    above), empty sets included."""
    from annotator.agreement.coefficients import (
        MASI_MONOTONICITY,
        _masi_expected_by_subsets,
        masi_distances,
    )

    rng = np.random.default_rng(seed)
    codes = np.unique(rng.integers(0, 2**n_lab, n_sets))
    counts = rng.integers(1, 1000, len(codes))
    sets = ((codes[:, None] >> np.arange(n_lab)) & 1).astype(bool)
    pairwise = counts.astype(float) @ masi_distances(sets[:, None], sets[None]) @ counts
    assert _masi_expected_by_subsets(codes, counts, n_lab, MASI_MONOTONICITY) \
        == pytest.approx(pairwise, rel=1e-12, abs=1e-9)
