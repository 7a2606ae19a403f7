"""Bootstrap confidence interval for nominal alpha by resampling units.

Resampling units with replacement and summing their count rows is the same as
drawing, per resample, how many times each distinct count row is picked: a
multinomial over the `CountTable` rows with probabilities weight / units. So all
resamples are one (B, P) count matrix times the per-row alpha contributions — no
unit-level rebuilding. When there are very many distinct rows (many annotators and
categories) unit indices are drawn instead, which has the same distribution.
"""

from __future__ import annotations

import zlib

import numpy as np

from .coefficients import CountTable, Estimate, alpha_from_sums, alpha_parts

# Keep each (resamples x rows) block to about this many cells.
_BLOCK_CELLS = 5_000_000


def rng_for(seed: int, *keys: str) -> np.random.Generator:
    """A generator per (seed, layer, label) so adding a label never shifts another's CI."""
    return np.random.default_rng([int(seed), *(zlib.crc32(k.encode("utf-8")) for k in keys)])


def bootstrap_alpha(t: CountTable, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Alpha for each of `n_boot` resamples of the pairable units (NaN where undefined).

    Only pairable units (>= 2 ratings) are resampled: the others do not enter alpha.
    """
    m, diag, rows = alpha_parts(t)
    w = t.weights[t.ratings_per_unit >= 2]
    n_units = int(w.sum())
    if n_boot <= 0 or n_units == 0:
        return np.zeros(0)
    p = len(w)
    probs = w / n_units
    use_multinomial = p <= max(64, n_units // 8)
    out = np.empty(n_boot)
    block = max(1, _BLOCK_CELLS // (p if use_multinomial else max(p, n_units)))
    for start in range(0, n_boot, block):
        b = min(block, n_boot - start)
        if use_multinomial:
            picks = rng.multinomial(n_units, probs, size=b).astype(np.float64)
        else:
            # Rows are (nearly) one per unit here: draw unit indices, count per row.
            unit_row = np.repeat(np.arange(p), w)
            idx = rng.integers(0, n_units, size=(b, n_units))
            flat = (unit_row[idx] + (np.arange(b) * p)[:, None]).ravel()
            picks = np.bincount(flat, minlength=b * p).reshape(b, p).astype(np.float64)
        n = picks @ m
        d = picks @ diag
        marg = picks @ rows
        out[start : start + b] = alpha_from_sums(n, d, np.einsum("bc,bc->b", marg, marg))
    return out


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> Estimate | tuple[float, float]:
    """Percentile interval of the defined resamples, or Estimate(None, reason)."""
    ok = samples[np.isfinite(samples)]
    if len(samples) == 0:
        return Estimate(None, "bootstrap disabled")
    if len(ok) < 0.5 * len(samples):
        return Estimate(None, "alpha undefined in most bootstrap resamples")
    lo, hi = np.quantile(ok, [(1 - level) / 2, 1 - (1 - level) / 2])
    return (float(lo), float(hi))


def alpha_ci95(
    t: CountTable, n_boot: int, seed: int, *keys: str
) -> tuple[list[float] | None, str | None]:
    """95% percentile bootstrap CI of nominal alpha as a JSON-ready [lo, hi] or (None, reason)."""
    if n_boot <= 0:
        return None, "bootstrap disabled (0 resamples)"
    samples = bootstrap_alpha(t, n_boot, rng_for(seed, *keys))
    if len(samples) == 0:
        return None, "no unit has two or more ratings"
    ci = percentile_ci(samples)
    if isinstance(ci, Estimate):
        return None, ci.reason
    return [ci[0], ci[1]], None


def alpha_ci95_level(t: CountTable, level: str, n_boot: int, seed: int, *keys: str
                     ) -> tuple[list[float] | None, str | None]:
    """alpha_ci95 at an ordinal or interval level: the same resampling of distinct count
    rows; the ordinal metric's distances are recomputed from each resample's marginals."""
    from .coefficients import _pairable, distance_matrix

    if level == "nominal":
        return alpha_ci95(t, n_boot, seed, *keys)
    if n_boot <= 0:
        return None, "bootstrap disabled (0 resamples)"
    p = _pairable(t)
    w = p.weights
    n_units = int(w.sum())
    if n_units == 0:
        return None, "no unit has two or more ratings"
    rng = rng_for(seed, *keys)
    rows = p.rows.astype(np.float64)
    m = rows.sum(axis=1)
    out = np.empty(n_boot)
    block = max(1, _BLOCK_CELLS // max(len(w) * rows.shape[1] ** 2, 1))
    for start in range(0, n_boot, block):
        b = min(block, n_boot - start)
        picks = rng.multinomial(n_units, w / n_units, size=b).astype(np.float64)
        marg = picks @ rows
        n = picks @ m
        if level == "interval":
            d = distance_matrix("interval", marg[0])[None]
            per_row = np.einsum("pc,ck,pk->p", rows, d[0], rows) / (m - 1)
            observed = picks @ per_row
            expected = np.einsum("bc,ck,bk->b", marg, d[0], marg)
        else:
            d = np.stack([distance_matrix("ordinal", mg) for mg in marg])
            per_row = np.einsum("pc,bck,pk->bp", rows, d, rows) / (m - 1)
            observed = (picks * per_row).sum(axis=1)
            expected = np.einsum("bc,bck,bk->b", marg, d, marg)
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = 1.0 - (n - 1.0) * observed / expected
        out[start:start + b] = np.where(expected > 1e-12 * n * n, alpha, np.nan)
    ci = percentile_ci(out)
    if isinstance(ci, Estimate):
        return None, ci.reason
    return [ci[0], ci[1]], None
