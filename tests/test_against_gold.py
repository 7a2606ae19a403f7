"""`agreement --against gold`: figures checked against independent computations (a
brute-force kappa, set-based span matching, a naive bootstrap loop) on random data,
and through the real entry point against the report schema."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from jsonschema import Draft202012Validator
from util import REPO, run_cli

from annotator.adjudication.session import Session
from annotator.agreement.against_gold import against_gold
from annotator.corpus import Document
from annotator.schema import load_schema
from annotator.store import SQLiteStore

SCHEMA = load_schema(REPO / "schemas" / "framing-devices.yaml")
DEVICES = [lab.id for lab in SCHEMA.layer("devices").labels]
STANCES = [lab.id for lab in SCHEMA.layer("stance").labels]
REPORT_SCHEMA = Draft202012Validator(json.loads(
    (REPO / "schemas" / "agreement-report.schema.json").read_text()))


def brute_kappa(a: list, b: list) -> float | None:
    """Cohen's kappa by its definition, one loop over the categories."""
    n = len(a)
    cats = sorted(set(a) | set(b), key=str)
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pe = sum((a.count(c) / n) * (b.count(c) / n) for c in cats)
    return None if abs(1 - pe) < 1e-12 else (po - pe) / (1 - pe)


def _ann(name, labels, spans=(), relations=()):
    return {"annotator": name, "status": "done", "labels": labels, "spans": list(spans),
            "relations": list(relations), "note": None, "updated_at": "2026-01-01T00:00:00Z"}


def _random_records(rng: random.Random, n: int, names=("alice", "bob")):
    """Spans live in fixed slots [10k, 10k+6) nudged by a character or two, so the
    overlap matching is one slot with one slot and can be counted independently."""
    recs, truth = [], []
    for u in range(n):
        g_st = rng.choice([*STANCES, None])
        g_dev = set(rng.sample(DEVICES[:4], rng.randint(0, 2)))
        g_slots = {k: rng.choice(["quote", "source"]) for k in range(4) if rng.random() < 0.4}
        gspans = [{"id": f"s{i + 1}", "layer": "quotes", "label": lab, "start": 10 * k,
                   "end": 10 * k + 6, "text": "x" * 6}
                  for i, (k, lab) in enumerate(sorted(g_slots.items()))]
        grels = ([{"label": "attributed_to", "from": "s1", "to": "s2"}]
                 if len(gspans) >= 2 else [])
        gold = {"labels": {"stance": g_st, "devices": [d for d in DEVICES if d in g_dev]},
                "spans": gspans, "relations": grels, "decided_by": [],
                "updated_at": "2026-01-01T00:00:00Z"}
        anns, per = [], {}
        for name in names:
            if rng.random() < 0.15:
                continue
            st = g_st if rng.random() < 0.6 else rng.choice([*STANCES, None])
            dev = set(g_dev) if rng.random() < 0.6 else set(rng.sample(DEVICES[:4], 1))
            slots = {}
            for k in range(4):
                if k in g_slots and rng.random() < 0.7:
                    slots[k] = (g_slots[k] if rng.random() < 0.8 else "quote",
                                rng.choice([0, 0, 1]))
                elif k not in g_slots and rng.random() < 0.15:
                    slots[k] = ("quote", 0)
            spans = [{"id": f"s{i + 1}", "layer": "quotes", "label": lab,
                      "start": 10 * k + d, "end": 10 * k + 6, "text": "x" * (6 - d)}
                     for i, (k, (lab, d)) in enumerate(sorted(slots.items()))]
            rels = ([{"label": "attributed_to", "from": "s1", "to": "s2"}]
                    if len(spans) >= 2 and rng.random() < 0.7 else [])
            anns.append(_ann(name, {"stance": st, "devices": sorted(dev)}, spans, rels))
            per[name] = (st, dev, slots, spans, rels)
        recs.append({"doc_id": "d", "paragraph": u, "text": "x" * 50, "annotations": anns,
                     "gold": gold})
        truth.append((g_st, g_dev, g_slots, gspans, grels, per))
    return recs, truth


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_figures_match_an_independent_computation(seed: int):
    recs, truth = _random_records(random.Random(seed), 300)
    rep = against_gold(recs, SCHEMA, bootstrap=0)
    assert rep["gold_units"] == 300
    for name in ("alice", "bob"):
        rows = [(t, t[5][name]) for t in truth if name in t[5]]
        o = rep["annotators"][name]
        assert o["units"] == len(rows)
        # single layer: accuracy and kappa over the labels and "none"
        a = [p[0] for _, p in rows]
        g = [t[0] for t, _ in rows]
        st = o["layers"]["stance"]
        assert st["accuracy"] == pytest.approx(np.mean([x == y for x, y in zip(a, g, strict=True)]))
        assert st["cohen_kappa"] == pytest.approx(brute_kappa(a, g))
        for lab in STANCES:
            k = brute_kappa([x == lab for x in a], [y == lab for y in g])
            assert st["labels"][lab]["cohen_kappa"] == (pytest.approx(k) if k is not None
                                                         else None)
        # multi layer: per label binary kappa, exact-set accuracy
        dv = o["layers"]["devices"]
        assert dv["exact_match"] == pytest.approx(np.mean([p[1] == t[1] for t, p in rows]))
        for lab in DEVICES[:4]:
            k = brute_kappa([lab in p[1] for _, p in rows], [lab in t[1] for t, _ in rows])
            acc = np.mean([(lab in p[1]) == (lab in t[1]) for t, p in rows])
            assert dv["labels"][lab]["cohen_kappa"] == pytest.approx(k)
            assert dv["labels"][lab]["accuracy"] == pytest.approx(acc)
        # spans: exact = same slot, label and start; overlap = same slot and label
        exact = sum(1 for t, p in rows for k, (lab, d) in p[2].items()
                    if t[2].get(k) == lab and d == 0)
        overlap = sum(1 for t, p in rows for k, (lab, _) in p[2].items() if t[2].get(k) == lab)
        n_a = sum(len(p[2]) for _, p in rows)
        n_g = sum(len(t[2]) for t, _ in rows)
        q = o["layers"]["quotes"]
        assert (q["spans"], q["gold_spans"]) == (n_a, n_g)
        assert q["f1_exact"] == pytest.approx(2 * exact / (n_a + n_g))
        assert q["f1_overlap"] == pytest.approx(2 * overlap / (n_a + n_g))
        assert q["precision_overlap"] == pytest.approx(overlap / n_a)
        assert q["recall_overlap"] == pytest.approx(overlap / n_g)
        quote_a = sum(1 for _, p in rows for lab, _ in p[2].values() if lab == "quote")
        quote_g = sum(1 for t, _ in rows for lab in t[2].values() if lab == "quote")
        quote_m = sum(1 for t, p in rows for k, (lab, _) in p[2].items()
                      if lab == "quote" and t[2].get(k) == "quote")
        assert q["labels"]["quote"]["f1_overlap"] == pytest.approx(
            2 * quote_m / (quote_a + quote_g))

        # relations: the first two spans linked, matched when both ends overlap a gold
        # relation's ends with the same labels
        def ends(spans, rels):
            by = {s["id"]: (s["label"], s["start"] // 10) for s in spans}
            return [(by[r["from"]], by[r["to"]]) for r in rels]

        rm = sum(len(set(ends(p[3], p[4])) & set(ends(t[3], t[4]))) for t, p in rows)
        ra = sum(len(p[4]) for _, p in rows)
        rg = sum(len(t[4]) for t, _ in rows)
        assert q["relation_scores"]["f1"] == pytest.approx(2 * rm / (ra + rg))


def test_bootstrap_intervals_reproducible_and_like_a_naive_bootstrap():
    recs, truth = _random_records(random.Random(7), 400)
    r1 = against_gold(recs, SCHEMA, bootstrap=2000, seed=5)
    r2 = against_gold(recs, SCHEMA, bootstrap=2000, seed=5)
    r3 = against_gold(recs, SCHEMA, bootstrap=2000, seed=6)
    assert r1 == r2 and r1 != r3
    st = r1["annotators"]["alice"]["layers"]["stance"]
    lo, hi = st["kappa_ci95"]
    assert lo < st["cohen_kappa"] < hi
    # the same interval from a naive loop over resampled units (another generator)
    rows = [(t[0], t[5]["alice"][0]) for t in truth if "alice" in t[5]]
    rng = np.random.default_rng(123)
    ks = []
    for _ in range(2000):
        idx = rng.integers(0, len(rows), len(rows))
        k = brute_kappa([rows[i][1] for i in idx], [rows[i][0] for i in idx])
        if k is not None:
            ks.append(k)
    nlo, nhi = np.quantile(ks, [0.025, 0.975])
    assert abs(lo - nlo) < 0.03 and abs(hi - nhi) < 0.03
    q = r1["annotators"]["alice"]["layers"]["quotes"]
    assert q["f1_overlap_ci95"][0] < q["f1_overlap"] < q["f1_overlap_ci95"][1]


def test_undefined_figures_are_null_with_a_reason():
    rec = {"doc_id": "d", "paragraph": 1, "text": "abc",
           "annotations": [_ann("alice", {"stance": "positive", "devices": []})],
           "gold": {"labels": {"stance": "positive", "devices": []}, "spans": [],
                    "relations": [], "decided_by": ["alice"], "updated_at": "x"}}
    rep = against_gold([rec], SCHEMA, bootstrap=10)
    st = rep["annotators"]["alice"]["layers"]["stance"]
    assert st["accuracy"] == 1.0 and st["cohen_kappa"] is None
    assert "no variation" in st["reasons"]["cohen_kappa"]
    q = rep["annotators"]["alice"]["layers"]["quotes"]
    assert q["f1_exact"] is None and q["reasons"]["f1_exact"]


def test_cli_against_gold_from_store_and_export(project: Path):
    s = SQLiteStore(project / ".annotator")
    s.import_documents([Document("d0", None, [f"Paragraph {i} about sanctions."
                                              for i in range(8)])])
    rng = random.Random(3)
    for name in ("alice", "bob"):
        j = s.journal(name, SCHEMA)
        for u in range(1, 9):
            j.apply("d0", u, {"type": "toggle_label", "layer": "stance",
                              "label": rng.choice(STANCES)})
    ses = Session(s, SCHEMA, "cur")
    for u in range(1, 9):
        ses.take_version("d0", u, "stance", "alice" if u % 3 else "bob")
    s.close()
    r = run_cli("agreement", "--against", "gold", "--json", "--bootstrap", "200",
                cwd=project)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    errors = [e.message for e in REPORT_SCHEMA.iter_errors(report)]
    assert not errors, errors[:3]
    ag = report["against_gold"]
    assert ag["gold_units"] == 8 and set(ag["annotators"]) == {"alice", "bob"}
    exp = run_cli("export", "--out", "-", cwd=project)
    (project / "e.jsonl").write_text(exp.stdout)
    r2 = run_cli("agreement", "e.jsonl", "--against", "gold", "--json", "--bootstrap", "200",
                 "--schema", str(REPO / "schemas" / "framing-devices.yaml"), cwd=project)
    assert r2.returncode == 0, r2.stderr
    assert json.loads(r2.stdout)["against_gold"] == ag
    # without --schema: the schema the export's records name (found in the project)
    r3 = run_cli("agreement", "e.jsonl", "--against", "gold", "--json", "--bootstrap", "200",
                 cwd=project)
    assert r3.returncode == 0, r3.stderr
    assert json.loads(r3.stdout)["against_gold"] == ag
    t = run_cli("agreement", "--against", "gold", cwd=project)
    assert t.returncode == 0 and "agreement with the gold (8 adjudicated unit(s))" in t.stdout


def test_cli_against_gold_without_gold(project: Path):
    s = SQLiteStore(project / ".annotator")
    s.import_documents([Document("d0", None, ["One."])])
    s.journal("alice", SCHEMA).apply("d0", 1, {"type": "mark_done"})
    s.close()
    r = run_cli("agreement", "--against", "gold", cwd=project)
    assert r.returncode == 1 and "no gold yet" in r.stderr and "Traceback" not in r.stderr
    assert not (project / ".annotator" / "journals" / "gold.db").exists()
