"""gamma (Mathet, Widlöcher & Métivier 2015) against pygamma-agreement (Titeux & Riad
2021): the best alignment and its disorder exactly (both are deterministic), the
expected disorder / gamma within the Monte-Carlo error of both estimates; edge cases;
the report and the CLI on an export."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
from agreement_records import QUOTES, annotation, schema_of
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from util import run_cli

from annotator.agreement import build_ratings, compute_report
from annotator.agreement.gamma import Dissimilarity, best_alignment, gamma

pg = pytest.importorskip("pygamma_agreement")  # the `test` extra installs it
from pyannote.core import Segment  # noqa: E402  (pygamma-agreement's dependency)

logging.getLogger().setLevel(logging.ERROR)  # pygamma warns about its MILP solver per call


def _continuum(ann, s, e, lab, n_annot):
    c = pg.Continuum()
    for k in range(n_annot):
        c.add_annotator(f"a{k}")
    for a, x, y, lb in zip(ann, s, e, lab, strict=True):
        c.add(f"a{a}", Segment(float(x), float(y)), f"L{lb}")
    return c


def _pg_units(c):
    """pygamma's units keyed like ours: (annotator index, start, end, label code)."""
    out = {}
    for name, unit in c:
        key = (int(name[1:]), unit.segment.start, unit.segment.end, int(unit.annotation[1:]))
        out[key] = (name, unit)
    return out


def _pg_disorder_of(groups, ann, s, e, lab, n_annot, c, dissim):
    """pygamma's own disorder of our alignment (same continuum, its dissimilarity)."""
    units = _pg_units(c)
    uas = []
    for g in groups:
        tup = {f"a{k}": None for k in range(n_annot)}
        for i in g:
            name, unit = units[(int(ann[i]), float(s[i]), float(e[i]), int(lab[i]))]
            assert tup[name] is None, "two spans of one annotator in a unitary alignment"
            tup[name] = unit
        uas.append(pg.UnitaryAlignment(list(tup.items())))
    return pg.Alignment(uas, continuum=c).compute_disorder(dissim)


# ---------------------------------------------------------------- a worked example


def test_worked_example_by_hand_and_pygamma():
    # a: [0,10) x, [20,30) y;  b: [1,10) x, [21,29) x;  c: [0,11) x
    ann, s, e, lab = [0, 0, 1, 1, 2], [0, 20, 1, 21, 0], [10, 30, 10, 29, 11], [0, 1, 0, 0, 0]
    al = best_alignment(ann, s, e, lab, 3)
    # {a0, b0, c0}: d_pos (a,b) = (1/19)^2, (a,c) = (1/21)^2, (b,c) = (2/20)^2, mean of 3
    first = ((1 / 19) ** 2 + (1 / 21) ** 2 + (2 / 20) ** 2) / 3
    # {a1, b1, -}: d = (2/18)^2 + 1 (labels differ), two pairs with the empty unit: 1 each
    second = ((2 / 18) ** 2 + 1 + 1 + 1) / 3
    assert sorted(map(sorted, al.groups)) == [[0, 2, 4], [1, 3]]
    assert al.disorder == pytest.approx((first + second) / (5 / 3), rel=1e-12)
    c = _continuum(ann, s, e, lab, 3)
    ref = c.get_best_alignment(pg.CombinedCategoricalDissimilarity())
    assert al.disorder == pytest.approx(ref.disorder, rel=1e-5)


# ---------------------------------------------------------------- random continua


@st.composite
def continua(draw, max_annot=4, max_spans=5):
    n_annot = draw(st.integers(2, max_annot))
    # dense (most spans overlap) or spread out (far pairs, long spans bridging them)
    width, longest = draw(st.sampled_from([(50, 20), (300, 40)]))
    rows = set()
    for a in range(n_annot):
        for _ in range(draw(st.integers(0, max_spans))):
            x = draw(st.integers(0, width))
            rows.add((a, x, x + draw(st.integers(1, longest)), draw(st.integers(0, 2))))
    if not rows:
        rows.add((0, 0, 5, 0))
    rows = sorted(rows)  # pygamma keeps a set of units per annotator: no duplicates
    ann, s, e, lab = (np.array(col) for col in zip(*rows, strict=True))
    return ann, s, e, lab, n_annot


# pygamma multiplies only the positional part by delta_empty (its categorical part keeps
# the delta of 1 it was compiled with); the paper scales both, as we do: the weightings
# compared are those where the two readings coincide (delta 1, or beta 0).
PARAMS = [(1.0, 1.0, 1.0), (1.0, 0.5, 1.0), (2.0, 3.0, 1.0), (1.0, 0.0, 0.5)]


# every pygamma call costs tens of milliseconds: no shrinking (a failure still shows
# its example)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(continua(), st.sampled_from(PARAMS))
def test_best_alignment_matches_pygamma(case, params):
    ann, s, e, lab, n_annot = case
    alpha, beta, delta = params
    ours = best_alignment(ann, s, e, lab, n_annot, dissim=Dissimilarity(alpha, beta, delta))
    c = _continuum(ann, s, e, lab, n_annot)
    dissim = pg.CombinedCategoricalDissimilarity(alpha=alpha, beta=beta, delta_empty=delta)
    ref = c.get_best_alignment(dissim)
    # pygamma computes in float32: agreement to its precision
    assert ours.disorder == pytest.approx(ref.disorder, rel=2e-5, abs=1e-6)
    # our alignment is a partition of every span, and pygamma finds its disorder the same
    assert sorted(i for g in ours.groups for i in g) == list(range(len(s)))
    assert _pg_disorder_of(ours.groups, ann, s, e, lab, n_annot, c, dissim) == pytest.approx(
        ours.disorder, rel=2e-5, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(continua(max_annot=3, max_spans=6), st.integers(-1000, 1000))
def test_disorder_ignores_a_shift_and_the_order_of_spans(case, shift):
    ann, s, e, lab, n_annot = case
    base = best_alignment(ann, s, e, lab, n_annot).disorder
    perm = np.random.default_rng(0).permutation(len(s))
    moved = best_alignment(ann[perm], s[perm] + shift, e[perm] + shift, lab[perm], n_annot)
    assert moved.disorder == pytest.approx(base, rel=1e-9, abs=1e-12)


def test_sections_are_never_aligned_across():
    # the same spans in two units: alone, each unit's pair is aligned
    ann, s, e, lab = [0, 1], [0, 0], [10, 10], [0, 0]
    assert best_alignment(ann, s, e, lab, 2).disorder == 0.0
    split = best_alignment(ann, s, e, lab, 2, section=np.array([0, 1]))
    assert split.disorder == pytest.approx(2 * 1.0 / (2 / 2))  # two lone spans, delta each
    assert sorted(split.groups) == [(0,), (1,)]


# ---------------------------------------------------------------- expected disorder


CASES = {
    "small": ([0, 0, 1, 1, 2], [0, 20, 1, 21, 0], [10, 30, 10, 29, 11], [0, 1, 0, 0, 0], 3),
    "two annotators": ([0, 0, 0, 1, 1, 1], [0, 15, 40, 2, 18, 60], [10, 30, 50, 9, 30, 70],
                       [0, 1, 0, 0, 1, 1], 2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gamma_within_monte_carlo_error_of_pygamma(name):
    ann, s, e, lab, n_annot = CASES[name]
    n = 150
    ours = gamma(ann, s, e, lab, n_annot, samples=n, seed=3)
    np.random.seed(3)
    c = _continuum(ann, s, e, lab, n_annot)
    ref = c.compute_gamma(pg.CombinedCategoricalDissimilarity(), n_samples=n)
    chance = np.array([a.disorder for a in ref.chance_alignments])
    assert ours.observed_disorder == pytest.approx(ref.observed_disorder, rel=1e-5)
    # two independent means of the same sampler: their difference is within 4 standard
    # errors (false alarm about 6e-5 for normal means; the seeds are fixed anyway)
    se = math.hypot(ours.expected_disorder_se, chance.std(ddof=1) / math.sqrt(len(chance)))
    assert abs(ours.expected_disorder - chance.mean()) < 4 * se
    # so gamma lies where pygamma's expected disorder, give or take that error, puts it
    assert 1 - ours.observed_disorder / (chance.mean() - 4 * se) - 1e-9 <= ours.gamma
    assert ours.gamma <= 1 - ours.observed_disorder / (chance.mean() + 4 * se) + 1e-9
    assert ref.gamma == pytest.approx(1 - ref.observed_disorder / chance.mean())


def test_gamma_is_reproducible_for_a_seed_and_varies_with_it():
    ann, s, e, lab, n_annot = CASES["small"]
    a = gamma(ann, s, e, lab, n_annot, samples=20, seed=5)
    b = gamma(ann, s, e, lab, n_annot, samples=20, seed=5)
    c = gamma(ann, s, e, lab, n_annot, samples=20, seed=6)
    assert a.gamma == b.gamma and a.samples == 20
    assert a.gamma != c.gamma


# ---------------------------------------------------------------- edge cases


def test_edge_cases():
    one = gamma([0, 0], [0, 5], [3, 9], [0, 0], 1)
    assert one.gamma is None and one.reason == "fewer than two annotators"
    none = gamma([], [], [], [], 3)
    assert none.gamma is None and none.reason == "no spans in this layer"
    same = gamma([0, 1, 2, 0, 1, 2], [0, 0, 0, 9, 9, 9], [5, 5, 5, 20, 20, 20],
                 [0, 0, 0, 1, 1, 1], 3)
    assert same.gamma == 1.0 and same.observed_disorder == 0.0
    # everything off: spans nobody else marked are each alone at delta
    alone = best_alignment([0, 1], [0, 100], [5, 105], [0, 0], 2)
    assert alone.disorder == pytest.approx(2.0) and len(alone.groups) == 2
    with pytest.raises(ValueError):
        best_alignment([0, 1], [3, 3], [3, 5], [0, 0], 2)
    with pytest.raises(ValueError):
        Dissimilarity(alpha=0)


# ---------------------------------------------------------------- report and CLI

SCHEMA = schema_of(QUOTES, id="q")


def _rec(u, *anns, length=80):
    return {"doc_id": "d", "paragraph": u, "text": "x" * length, "annotations": list(anns)}


def test_report_gamma_and_its_base():
    a = annotation("a", {}, [("1", "quote", 0, 10), ("2", "source", 20, 30)])
    b = annotation("b", {}, [("1", "quote", 1, 10), ("2", "quote", 21, 29)])
    c = annotation("c", {}, [("1", "quote", 0, 11)])
    lone = annotation("a", {}, [("1", "quote", 0, 10)])  # a unit only one annotator did
    rep = compute_report(build_ratings([_rec(0, a, b, c), _rec(1, lone)], SCHEMA), SCHEMA,
                         bootstrap=0, seed=2, gamma_samples=25)
    q = rep["layers"]["quotes"]
    ours = gamma([0, 0, 1, 1, 2], [0, 20, 1, 21, 0], [10, 30, 10, 29, 11], [0, 1, 0, 0, 0], 3,
                 samples=25, seed=2, section=np.zeros(5, int), section_length=[80])
    assert q["gamma"] == pytest.approx(ours.gamma, rel=1e-12)
    assert q["gamma_units"] == 1 and q["gamma_spans"] == 5
    assert q["gamma_samples"] == 25 and q["gamma_seed"] == 2
    assert q["gamma_observed_disorder"] == pytest.approx(0.6054766, rel=1e-6)
    assert "gamma" in q["gamma_definition"]


def test_report_gamma_null_with_reason():
    a = annotation("a", {}, [("1", "quote", 0, 10)])
    rep = compute_report(build_ratings([_rec(0, a)], SCHEMA), SCHEMA, bootstrap=0)
    q = rep["layers"]["quotes"]
    assert q["gamma"] is None and q["reasons"]["gamma"] == "fewer than two annotators"
    a = annotation("a", {}, [])
    b = annotation("b", {}, [])
    q = compute_report(build_ratings([_rec(0, a, b)], SCHEMA), SCHEMA, bootstrap=0)
    q = q["layers"]["quotes"]
    assert q["gamma"] is None and q["reasons"]["gamma"] == "no spans in this layer"


def _write_export(path: Path, units: list[list[tuple[str, list[tuple[str, int, int]]]]]) -> None:
    text = "The minister said the plan would work, according to the report of Monday."
    with open(path, "w", encoding="utf-8") as fh:
        for u, anns in enumerate(units):
            out = []
            for name, spans in anns:
                out.append({"annotator": name, "status": "done", "labels": {},
                            "spans": [{"id": f"s{k}", "layer": "quotes", "label": lab,
                                       "start": x, "end": y, "text": text[x:y],
                                       "attributes": {}}
                                      for k, (lab, x, y) in enumerate(spans)],
                            "relations": [], "note": None,
                            "updated_at": "2026-11-23T10:00:00Z"})
            fh.write(json.dumps({"doc_id": "doc", "paragraph": u + 1, "text": text,
                                 "title": None, "meta": {},
                                 "schema": {"id": "q", "version": 1, "sha256": ""},
                                 "annotations": out}) + "\n")


def test_cli_gamma_on_an_export(tmp_path: Path):
    schema = tmp_path / "q.yaml"
    schema.write_text(
        "id: q\nversion: 1\ntitle: quotes\nlayers:\n"
        "  - id: quotes\n    name: Quotes\n    kind: span\n    labels:\n"
        "      - {id: quote, name: Q, description: q}\n"
        "      - {id: source, name: S, description: s}\n", encoding="utf-8")
    units = [
        [("a", [("quote", 4, 37), ("source", 56, 66)]), ("b", [("quote", 4, 38)]),
         ("c", [("quote", 4, 37), ("source", 52, 66)])],
        [("a", [("quote", 0, 12)]), ("b", [("quote", 0, 12), ("source", 40, 50)]),
         ("c", [("source", 0, 12)])],
    ]
    export = tmp_path / "e.jsonl"
    _write_export(export, units)
    r = run_cli("agreement", str(export), "--schema", str(schema), "--json", "--bootstrap", "0",
                "--seed", "4")
    assert r.returncode == 0, r.stderr
    q = json.loads(r.stdout)["layers"]["quotes"]
    # the same spans straight into gamma: unit u is section u
    rows = [(k, "abc".index(name), lab, x, y) for k, unit in enumerate(units)
            for name, spans in unit for lab, x, y in spans]
    sec, ann, lab, s, e = (np.array(c) for c in zip(*rows, strict=True))
    codes = np.array([["quote", "source"].index(x) for x in lab])
    ours = gamma(ann, s.astype(int), e.astype(int), codes, 3, section=sec.astype(int),
                 section_length=[73, 73], samples=30, seed=4)
    assert q["gamma"] == pytest.approx(ours.gamma, rel=1e-12)
    assert q["gamma_samples"] == 30 and q["gamma_units"] == 2 and q["gamma_spans"] == len(rows)
    total = 0.0  # pygamma one unit at a time: the sum of its unitary disorders
    for k in range(2):
        m = sec == k
        ck = _continuum(ann[m], s[m], e[m], codes[m], 3)
        total += ck.get_best_alignment(pg.CombinedCategoricalDissimilarity()).disorder * (
            m.sum() / 3)
    assert q["gamma_observed_disorder"] == pytest.approx(
        total / (len(rows) / 3), rel=1e-5)
    text = run_cli("agreement", str(export), "--schema", str(schema), "--bootstrap", "0")
    assert text.returncode == 0 and "gamma: " in text.stdout and "30 random continua" in text.stdout
