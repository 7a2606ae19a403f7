"""Every figure states its base, and ordered single layers through the real CLI: alpha
at the layer's level, AC2, weighted kappa, from an export file."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import jsonschema
import krippendorff
import numpy as np
import pandas as pd
import pytest
from irrCAC.raw import CAC
from sklearn.metrics import cohen_kappa_score
from util import REPO, run_cli

SCHEMA = """\
id: scaled
version: 1
title: scaled
layers:
  - id: intensity
    name: Intensity
    kind: single
    scale: {scale}
    labels:
      - {{id: none, name: none, description: d}}
      - {{id: low, name: low, description: d}}
      - {{id: mid, name: mid, description: d}}
      - {{id: high, name: high, description: d}}
  - id: devices
    name: Devices
    kind: multi
    labels:
      - {{id: a, name: a, description: d}}
      - {{id: b, name: b, description: d}}
"""
LEVELS = ["none", "low", "mid", "high"]


def export(tmp: Path, scale: str, raters: int, seed: int) -> tuple[Path, list[list]]:
    schema = tmp / "schemas" / "scaled.yaml"
    schema.parent.mkdir(exist_ok=True)
    schema.write_text(SCHEMA.format(scale=scale), encoding="utf-8")
    rng = np.random.default_rng(seed)
    rows = []
    with open(tmp / "e.jsonl", "w", encoding="utf-8") as fh:
        for u in range(60):
            truth = rng.integers(0, 4)
            anns, row = [], []
            for k in range(raters):
                if rng.random() < 0.2:
                    row.append(None)
                    continue
                v = int(np.clip(truth + rng.integers(-1, 2), 0, 3))
                row.append(v)
                anns.append({"annotator": f"r{k}", "status": "done",
                             "labels": {"intensity": LEVELS[v],
                                        "devices": ["a"] if (v + k) % 3 else ["a", "b"]},
                             "spans": [], "relations": [], "note": None,
                             "updated_at": "2026-11-23T10:00:00Z"})
            rows.append(row)
            if anns:
                fh.write(json.dumps({"doc_id": "d", "paragraph": u, "text": "x", "title": None,
                                     "meta": {}, "schema": {"id": "scaled", "version": 1,
                                                            "sha256": ""},
                                     "annotations": anns}) + "\n")
    return tmp / "e.jsonl", [r for r in rows if any(v is not None for v in r)]


@pytest.mark.parametrize("scale,weights", [("ordinal", "linear"), ("interval", "quadratic")])
def test_ordered_layer_through_the_cli(tmp_path, scale, weights):
    path, rows = export(tmp_path, scale, 3, seed=1 if scale == "ordinal" else 2)
    assert run_cli("validate", "schemas/scaled.yaml", "e.jsonl", cwd=tmp_path).returncode == 0
    r = run_cli("agreement", "e.jsonl", "--json", "--bootstrap", "300", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    lay = rep["layers"]["intensity"]
    assert lay["scale"] == lay["alpha_level"] == scale and lay["weights"] == weights
    data = np.array([[np.nan if v is None else v for v in row] for row in rows], float)
    want = krippendorff.alpha(reliability_data=data.T, level_of_measurement=scale,
                              value_domain=[0, 1, 2, 3])
    assert lay["krippendorff_alpha"] == pytest.approx(want, abs=1e-9)
    nominal = krippendorff.alpha(reliability_data=data.T, level_of_measurement="nominal",
                                 value_domain=[0, 1, 2, 3])
    assert lay["krippendorff_alpha_nominal"] == pytest.approx(nominal, abs=1e-9)
    lo, hi = lay["alpha_ci95"]
    assert lo <= lay["krippendorff_alpha"] <= hi
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ac2 = CAC(pd.DataFrame(data + 1), weights=weights,
                  categories=[1, 2, 3, 4]).gwet()["est"]["coefficient_value"]
    assert lay["gwet_ac2"] == pytest.approx(ac2, abs=1e-5)
    # pairs: weighted kappa as scikit-learn's
    pair = next(p for p in rep["pairs"] if (p["a"], p["b"]) == ("r0", "r1"))
    both = [(a, b) for a, b, _ in rows if a is not None and b is not None]
    want = cohen_kappa_score([a for a, _ in both], [b for _, b in both], labels=[0, 1, 2, 3],
                             weights=weights)
    assert pair["layers"]["intensity"]["cohen_kappa_weighted"] == pytest.approx(want, abs=1e-9)
    table = run_cli("agreement", "e.jsonl", "--bootstrap", "0", cwd=tmp_path).stdout
    assert f"scale {scale}: alpha, AC2, weighted kappa ({weights} weights)" in table


def test_every_figure_states_its_base(tmp_path):
    path, rows = export(tmp_path, "ordinal", 3, seed=3)
    r = run_cli("agreement", "e.jsonl", "--json", "--bootstrap", "0", cwd=tmp_path)
    rep = json.loads(r.stdout)
    jsonschema.validate(rep, json.loads((REPO / "schemas" / "agreement-report.schema.json")
                                        .read_text(encoding="utf-8")))
    n_rated = [sum(v is not None for v in row) for row in rows]
    pairable = [n for n in n_rated if n >= 2]
    assert rep["units"] == len(rows) and rep["units_pairable"] == len(pairable)
    lay = rep["layers"]["intensity"]
    assert lay["units"] == len(pairable) and lay["ratings"] == sum(pairable)
    assert lay["raters"] == 3 and lay["rated_units"] == len(rows)
    assert lay["fleiss_units"] == sum(n == 3 for n in n_rated) and lay["fleiss_raters"] == 3
    assert lay["fleiss_kappa_gwet"] is not None
    sov = rep["layers"]["devices"]["labels"]["a"]
    assert sov["units"] == len(pairable) and sov["prevalence_ratings"] == sum(n_rated)
    assert rep["layers"]["devices"]["masi_units"] == len(pairable)
    table = run_cli("agreement", "e.jsonl", "--bootstrap", "0", cwd=tmp_path).stdout
    assert f"Units: {len(rows)} marked done, {len(pairable)} of them by two or more" in table
    assert (f"base: units, percent, alpha, AC1: {len(pairable)} pairable units, "
            f"{sum(pairable)} ratings, 3 raters") in table
    assert f"{len(rows)} rated units" in table
    assert "MASI alpha over label sets" in table
    for line in table.splitlines():
        if line.startswith(("  base", "    ", "  scale", "  MASI")):
            assert len(line) <= 80, line
