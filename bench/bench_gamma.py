"""gamma (Mathet et al. 2015) on one span layer: 3 annotators x 500 and x 5,000 spans,
ours against pygamma-agreement (the reference implementation) on the same data in the
same run. The data: reference spans of 5-79 code points with gaps of 0-59 along one
text, 5 labels; each annotator keeps 90% of them, moves both ends by up to 5 and keeps
the label 85% of the time. Both estimate the expected disorder from 30 random continua
of the same (statistical) sampler.

pygamma's exact mode (one MILP over every admissible unitary alignment) is run only up
to --pygamma-max spans per annotator (it took over 300 s on 3 x 500); above that its
"fast" mode (windowed, approximate alignment) is the baseline, also capped by
--pygamma-fast-max.

    .venv/bin/python bench/bench_gamma.py
    .venv/bin/python bench/bench_gamma.py --sizes 100 500 --pygamma-max 100
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotator.agreement.gamma import gamma  # noqa: E402


def data(n: int, k: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    length = rng.integers(5, 80, n)
    s0 = np.cumsum(rng.integers(0, 60, n) + length) - length
    lab0 = rng.integers(0, 5, n)
    cols = [[], [], [], []]
    for a in range(k):
        keep = rng.random(n) > 0.1
        s = s0 + rng.integers(-5, 6, n)
        e = np.maximum(s0 + length + rng.integers(-5, 6, n), s + 1)
        lab = np.where(rng.random(n) < 0.85, lab0, rng.integers(0, 5, n))
        for c, v in zip(cols, (np.full(n, a), s, e, lab), strict=True):
            c.append(v[keep])
    return [np.concatenate(c) for c in cols]


def ours(ann, s, e, lab, samples, seed):
    t0 = time.perf_counter()
    r = gamma(ann, s, e, lab, 3, samples=samples, seed=seed)
    return r, time.perf_counter() - t0


def pygamma(ann, s, e, lab, samples, fast):
    import pygamma_agreement as pg
    from pyannote.core import Segment

    logging.getLogger().setLevel(logging.ERROR)
    c = pg.Continuum()
    for a, x, y, lb in zip(ann, s, e, lab, strict=True):
        c.add(f"a{a}", Segment(float(x), float(y)), f"L{lb}")
    np.random.seed(0)
    sys.stdout.flush()
    saved = os.dup(1)  # GLPK prints its MILP log on file descriptor 1
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        t0 = time.perf_counter()
        g = c.compute_gamma(pg.CombinedCategoricalDissimilarity(), n_samples=samples, fast=fast)
        took = time.perf_counter() - t0
    finally:
        os.dup2(saved, 1)
        os.close(null)
        os.close(saved)
    return g, took


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 5000])
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--pygamma-max", type=int, default=100,
                    help="largest size pygamma's exact mode runs on")
    ap.add_argument("--pygamma-fast-max", type=int, default=500,
                    help="largest size pygamma's fast mode runs on")
    args = ap.parse_args(argv)
    # warm pygamma's numba compilation outside the timings
    try:
        pygamma(*data(5), 2, False)
        have_pg = True
    except ImportError:
        have_pg = False
    print(f"{'spans':>12} {'what':<28} {'seconds':>9} {'gamma':>7} {'obs':>7} {'exp':>7}"
          f" {'exp s.e.':>8} {'ratio':>7}")
    for n in args.sizes:
        ann, s, e, lab = data(n)
        r, t = ours(ann, s, e, lab, args.samples, 0)
        label = f"3 x {n}"
        print(f"{label:>12} {'ours (exact alignment)':<28} {t:9.3f} {r.gamma:7.4f} "
              f"{r.observed_disorder:7.4f} {r.expected_disorder:7.4f} "
              f"{r.expected_disorder_se:8.4f} {'':>7}")
        if not have_pg:
            continue
        for fast, cap, name in ((False, args.pygamma_max, "pygamma exact"),
                                (True, args.pygamma_fast_max, "pygamma fast")):
            if n > cap:
                flag = "--pygamma-fast-max" if fast else "--pygamma-max"
                print(f"{label:>12} {name:<28} {'skipped':>9}  (size > {flag})")
                continue
            g, tp = pygamma(ann, s, e, lab, args.samples, fast)
            chance = np.array([a.disorder for a in g.chance_alignments])
            print(f"{label:>12} {name:<28} {tp:9.3f} {g.gamma:7.4f} "
                  f"{g.observed_disorder:7.4f} {chance.mean():7.4f} "
                  f"{chance.std(ddof=1) / np.sqrt(len(chance)):8.4f} {tp / t:6.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
