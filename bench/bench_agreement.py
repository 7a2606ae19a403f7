"""Benchmark of the agreement statistics on a large synthetic multi-label layer.

Default: 1,000,000 units x 3 annotators x 20 labels, 10% of ratings missing, built
through `ratings_from_columns` (the store's fast path), then the full report, one
label's alpha against the `krippendorff` package on the same matrix, and bootstrap.

    .venv/bin/python bench/bench_agreement.py                # full size
    .venv/bin/python bench/bench_agreement.py --units 20000 --boot 200
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotator.agreement import (  # noqa: E402
    compute_report,
    krippendorff_alpha,
    ratings_from_columns,
)
from annotator.agreement.bootstrap import alpha_ci95  # noqa: E402
from annotator.agreement.report import _binary_table  # noqa: E402
from annotator.schema import Label, LabelSchema, Layer  # noqa: E402


def make_columns(n_units: int, n_annot: int, n_labels: int, missing: float, seed: int):
    rng = np.random.default_rng(seed)
    annotators = [f"ann{i}" for i in range(n_annot)]
    done = {a: np.flatnonzero(rng.random(n_units) >= missing) for a in annotators}
    prevalence = rng.uniform(0.02, 0.3, n_labels)
    labels = [f"label{j:02d}" for j in range(n_labels)]
    multi: dict = {"devices": {}}
    for j, lab in enumerate(labels):
        truth = rng.random(n_units) < prevalence[j]
        per = {}
        for a in annotators:
            flip = rng.random(n_units) < 0.08  # each annotator errs on 8% of decisions
            per[a] = np.flatnonzero(truth ^ flip)
        multi["devices"][lab] = per
    schema = LabelSchema(
        id="bench",
        version=1,
        title="bench",
        layers=(Layer("devices", "Devices", "multi", tuple(Label(lab, lab) for lab in labels)),),
    )
    return annotators, done, multi, schema


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--units", type=int, default=1_000_000)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--annotators", type=int, default=3)
    ap.add_argument("--labels", type=int, default=20)
    ap.add_argument("--missing", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-package", action="store_true", help="skip the krippendorff package row")
    args = ap.parse_args(argv)

    (annotators, done, multi, schema), t_gen = timed(
        lambda: make_columns(args.units, args.annotators, args.labels, args.missing, args.seed)
    )
    rows: list[tuple[str, str, str]] = []
    rows.append(("generate synthetic columns (not timed below)", f"{t_gen:.2f}", ""))

    ratings, t_build = timed(
        lambda: ratings_from_columns(args.units, annotators, done, multi, {}, schema)
    )
    rows.append(("build ratings (ratings_from_columns)", f"{t_build:.2f}", ""))

    _, t_report = timed(lambda: compute_report(ratings, schema, bootstrap=0))
    rows.append(
        (
            f"report, no bootstrap: alpha+AC1+Fleiss+kappas, {args.labels} labels + pairs",
            f"{t_report:.2f}",
            f"target < 5 s; with build {t_build + t_report:.2f} s",
        )
    )

    first = ratings.multi["devices"].labels[0]
    base = len(annotators) + 1

    def ours_one_label():
        on = ratings.multi["devices"].on[:, :, 0]
        n_on = on.sum(axis=1, dtype=np.uint8)
        m = ratings.rated.sum(axis=1, dtype=np.uint8)
        return krippendorff_alpha(_binary_table(n_on, m, base)).value

    ours, t_ours = timed(ours_one_label)
    rows.append((f"our alpha, one label (its counts + alpha) = {ours:.6f}", f"{t_ours:.3f}", ""))

    if not args.skip_package:
        import krippendorff

        on = ratings.multi["devices"].on[:, :, 0]
        data = np.where(ratings.rated, on.astype(float), np.nan).T  # (annotators, units)
        theirs, t_pkg = timed(
            lambda: krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
        )
        rows.append((f"krippendorff package alpha, same matrix = {theirs:.6f}", f"{t_pkg:.3f}", ""))
        assert abs(theirs - ours) < 1e-9, (theirs, ours)

    n_on, m = ratings.multi_counts("devices")
    tables = [_binary_table(n_on[:, j], m, base) for j in range(args.labels)]
    ci, t_boot1 = timed(lambda: alpha_ci95(tables[0], args.boot, args.seed, "devices", first))
    rows.append((f"{args.boot} bootstrap resamples, one label", f"{t_boot1:.3f}", ""))
    _, t_boot_all = timed(
        lambda: [
            alpha_ci95(t, args.boot, args.seed, "devices", lab)
            for t, lab in zip(tables, ratings.multi["devices"].labels, strict=True)
        ]
    )
    rows.append(
        (
            f"{args.boot} bootstrap resamples, each of {args.labels} labels",
            f"{t_boot_all:.3f}",
            "target < 30 s",
        )
    )

    report_b, t_full = timed(lambda: compute_report(ratings, schema, bootstrap=args.boot))
    rows.append((f"whole report with {args.boot} resamples per label", f"{t_full:.2f}", ""))
    # sanity: the CI brackets the point estimate (no CI with --boot 0)
    lab = report_b["layers"]["devices"]["labels"][first]
    if args.boot > 0:
        lo, hi = lab["alpha_ci95"]
        assert lo <= lab["krippendorff_alpha"] <= hi

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(("peak RSS", f"{peak_mb:.0f} MB", ""))

    print(
        f"agreement benchmark: {args.units:,} units x {args.annotators} annotators x "
        f"{args.labels} labels (multi), {args.missing:.0%} missing, seed {args.seed}"
    )
    w = max(len(r[0]) for r in rows)
    print(f"{'step':<{w}}  {'seconds':>9}  note")
    print(f"{'-' * w}  {'-' * 9}  {'-' * 4}")
    for name, secs, note in rows:
        print(f"{name:<{w}}  {secs:>9}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
