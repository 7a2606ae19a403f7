"""Nominal agreement coefficients computed from per-unit category counts.

Every coefficient here reads a `CountTable`: distinct rows of per-unit category
counts `n[u, c]` (how many annotators put unit u in category c) with the number of
units that share each row. All coefficients are sums over units of a function of
the unit's count row, so compressing a million units to their few distinct rows
loses nothing and makes each coefficient (and each bootstrap resample) cheap.

Undefined values are returned as `Estimate(None, reason)`: never NaN, never raised.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np

# A denominator this close to zero means "no variation": the coefficient is 0/0.
_EPS = 1e-12


class Estimate(NamedTuple):
    """A coefficient value, or None with the reason it is undefined."""

    value: float | None
    reason: str | None = None


def _ok(x: float) -> Estimate:
    return Estimate(float(x), None)


def _undefined(reason: str) -> Estimate:
    return Estimate(None, reason)


class CountTable(NamedTuple):
    """Distinct per-unit count rows (`rows[p, c]`) and how many units have each (`weights[p]`).

    Only units with at least one rating are kept (units nobody rated carry no information).
    """

    rows: np.ndarray  # int64 [P, C]
    weights: np.ndarray  # int64 [P]

    @property
    def n_categories(self) -> int:
        return int(self.rows.shape[1])

    @property
    def ratings_per_unit(self) -> np.ndarray:
        return self.rows.sum(axis=1)

    def units(self, min_ratings: int = 1) -> int:
        return int(self.weights[self.ratings_per_unit >= min_ratings].sum())

    def subset(self, mask: np.ndarray) -> CountTable:
        return CountTable(self.rows[mask], self.weights[mask])


def count_table(counts: np.ndarray) -> CountTable:
    """Compress per-unit counts `int[U, C]` to their distinct rows with multiplicities.

    Rows are encoded as one integer (base = max count + 1) so grouping is a bincount or
    a 1-D unique instead of a lexicographic sort of a [U, C] matrix.
    """
    counts = np.asarray(counts)
    if counts.ndim != 2:
        raise ValueError("counts must be a 2-D array [units, categories]")
    n_cat = counts.shape[1]
    if counts.shape[0] == 0 or n_cat == 0:
        return CountTable(np.zeros((0, n_cat), np.int64), np.zeros(0, np.int64))
    counts = counts[counts.sum(axis=1) > 0]
    if counts.shape[0] == 0:
        return CountTable(np.zeros((0, n_cat), np.int64), np.zeros(0, np.int64))
    base = int(counts.max()) + 1
    if n_cat * np.log2(base) < 62:
        powers = base ** np.arange(n_cat, dtype=np.int64)
        code = counts.astype(np.int64) @ powers
        span = int(base**n_cat)
        if span <= 4 * counts.shape[0] + 1024:
            freq = np.bincount(code, minlength=span)
            uniq = np.flatnonzero(freq)
            weights = freq[uniq]
        else:
            uniq, weights = np.unique(code, return_counts=True)
        rows = (uniq[:, None] // powers[None, :]) % base
        return CountTable(rows.astype(np.int64), weights.astype(np.int64))
    # Too many categories for an exact code: hash rows to one int64 (wrapping arithmetic),
    # group by the hash, and check the grouping; np.unique(axis=0) is ~50x slower.
    mult = np.random.default_rng(0x5EED).integers(1, 2**62, size=n_cat, dtype=np.int64) | 1
    with np.errstate(over="ignore"):
        code = counts.astype(np.int64) @ mult
    _, first, inverse, weights = np.unique(
        code, return_index=True, return_inverse=True, return_counts=True
    )
    rows = counts[first].astype(np.int64)
    if np.array_equal(rows[inverse.ravel()], counts):
        return CountTable(rows, weights.astype(np.int64))
    rows, weights = np.unique(counts.astype(np.int64), axis=0, return_counts=True)
    return CountTable(rows, weights.astype(np.int64))


def counts_from_ratings(
    data: np.ndarray, categories: list | None = None
) -> tuple[np.ndarray, list]:
    """Units x raters matrix of category values (None/NaN = missing) -> counts [U, C], categories.

    A convenience for tests and reference data; the report path never builds this.
    """
    arr = np.asarray(data, dtype=object)
    if categories is None:
        seen = {
            v for v in arr.ravel() if v is not None and not (isinstance(v, float) and np.isnan(v))
        }
        categories = sorted(seen)
    index = {c: i for i, c in enumerate(categories)}
    out = np.zeros((arr.shape[0], len(categories)), np.int64)
    for u in range(arr.shape[0]):
        for v in arr[u]:
            if v is None or (isinstance(v, float) and np.isnan(v)):
                continue
            out[u, index[v]] += 1
    return out, list(categories)


# ---------------------------------------------------------------- pieces


def _pairable(t: CountTable) -> CountTable:
    return t.subset(t.ratings_per_unit >= 2)


def _unit_agreement(rows: np.ndarray) -> np.ndarray:
    """Per row: agreeing ordered pairs / all ordered pairs (rows must have >= 2 ratings)."""
    r = rows.sum(axis=1).astype(np.float64)
    return (rows * (rows - 1)).sum(axis=1) / (r * (r - 1))


def _category_shares(t: CountTable) -> np.ndarray | None:
    """Gwet's pi_k: mean over units with >= 1 rating of the share of the unit's ratings in k."""
    rated = t.ratings_per_unit >= 1
    w = t.weights[rated].astype(np.float64)
    if w.sum() == 0:
        return None
    rows = t.rows[rated]
    share = rows / rows.sum(axis=1, keepdims=True)
    return (w[:, None] * share).sum(axis=0) / w.sum()


# ---------------------------------------------------------------- coefficients


def percent_agreement(t: CountTable) -> Estimate:
    """Mean over pairable units (>= 2 ratings) of agreeing pairs / pairs."""
    p = _pairable(t)
    if p.weights.sum() == 0:
        return _undefined("no unit has two or more ratings")
    return _ok(np.average(_unit_agreement(p.rows), weights=p.weights))


def alpha_parts(t: CountTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct pairable row: (ratings m_u, coincidence diagonal sum, category counts).

    Nominal alpha only needs, summed over units, m_u, sum_c n_uc(n_uc-1)/(m_u-1) (the
    agreeing part of the coincidence matrix) and n_uc (its marginals), so bootstrap
    resamples reuse these per-row contributions.
    """
    p = _pairable(t)
    m = p.rows.sum(axis=1).astype(np.float64)
    diag = (p.rows * (p.rows - 1)).sum(axis=1) / (m - 1) if len(m) else m
    return m, diag, p.rows.astype(np.float64)


def alpha_from_sums(n: np.ndarray, diag: np.ndarray, marg_sq: np.ndarray) -> np.ndarray:
    """alpha = 1 - (n-1)(n - sum o_cc) / (n^2 - sum n_c^2); NaN where undefined (internal only)."""
    n = np.asarray(n, np.float64)
    denom = n * n - marg_sq
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1.0 - (n - 1.0) * (n - diag) / denom
    return np.where((n > 0) & (denom > _EPS * np.maximum(n * n, 1.0)), out, np.nan)


def krippendorff_alpha(t: CountTable) -> Estimate:
    """Krippendorff's alpha, nominal metric, from the coincidence matrix (Krippendorff 2011).

    Units with fewer than two ratings are unpairable and dropped.
    """
    m, diag, rows = alpha_parts(t)
    w = _pairable(t).weights.astype(np.float64)
    if w.sum() == 0:
        return _undefined("no unit has two or more ratings")
    n = float(w @ m)
    marg = w @ rows
    value = alpha_from_sums(np.array(n), np.array(float(w @ diag)), np.array(float(marg @ marg)))
    if np.isnan(value):
        return _undefined("no variation: every pairable rating is in the same category")
    return _ok(value)


def gwet_ac1(t: CountTable, n_categories: int | None = None) -> Estimate:
    """Gwet's AC1 for any number of raters with missing ratings (Gwet 2014, ch. 4).

    pa over units with >= 2 ratings; pe = sum_k pi_k (1 - pi_k) / (q - 1) with pi_k
    averaged over all units with >= 1 rating; q = number of categories of the scale.
    """
    q = t.n_categories if n_categories is None else n_categories
    if q < 2:
        return _undefined("fewer than two categories")
    pa = percent_agreement(t)
    if pa.value is None:
        return pa
    pi = _category_shares(t)
    assert pi is not None  # pairable units exist, so rated units exist
    pe = float((pi * (1 - pi)).sum() / (q - 1))
    return _ok((pa.value - pe) / (1 - pe))


def brennan_prediger(t: CountTable, n_categories: int | None = None) -> Estimate:
    """Brennan & Prediger (1981) free-marginal kappa: pe = 1/q."""
    q = t.n_categories if n_categories is None else n_categories
    if q < 2:
        return _undefined("fewer than two categories")
    pa = percent_agreement(t)
    if pa.value is None:
        return pa
    return _ok((pa.value - 1 / q) / (1 - 1 / q))


def fleiss_kappa(
    t: CountTable,
    n_raters: int | None = None,
    missing: Literal["complete", "gwet"] = "complete",
) -> Estimate:
    """Fleiss' (1971) kappa.

    missing="complete" (the report's choice): only units rated by all `n_raters`
    (default: the most ratings any unit has), exactly Fleiss' setting.
    missing="gwet": Gwet's (2014) extension to missing ratings — pa over units with >= 2
    ratings, pe = sum_k pi_k^2 with pi_k averaged over all rated units (irrCAC's value).
    """
    if missing == "gwet":
        pa = percent_agreement(t)
        if pa.value is None:
            return pa
        pi = _category_shares(t)
        assert pi is not None
        pe = float((pi**2).sum())
        if 1 - pe < _EPS:
            return _undefined("no variation: every rating is in the same category")
        return _ok((pa.value - pe) / (1 - pe))
    r = t.ratings_per_unit
    m = int(r.max()) if n_raters is None and len(r) else (n_raters or 0)
    if m < 2:
        return _undefined("fewer than two annotators")
    full = t.subset(r == m)
    w = full.weights.astype(np.float64)
    if w.sum() == 0:
        return _undefined(f"no unit was rated by all {m} annotators")
    pa = float(np.average(_unit_agreement(full.rows), weights=w))
    p = (w @ full.rows) / (w.sum() * m)
    pe = float((p**2).sum())
    if 1 - pe < _EPS:
        return _undefined("no variation: every rating is in the same category")
    return _ok((pa - pe) / (1 - pe))


def fleiss_category_kappas(t: CountTable, n_raters: int | None = None) -> list[Estimate]:
    """Fleiss (1971) per-category kappa (eq. 13) over units rated by all raters."""
    r = t.ratings_per_unit
    m = int(r.max()) if n_raters is None and len(r) else (n_raters or 0)
    if m < 2:
        return [_undefined("fewer than two annotators")] * t.n_categories
    full = t.subset(r == m)
    w = full.weights.astype(np.float64)
    if w.sum() == 0:
        return [_undefined(f"no unit was rated by all {m} annotators")] * t.n_categories
    n_units = w.sum()
    p = (w @ full.rows) / (n_units * m)
    disagree = w @ (full.rows * (m - full.rows))
    out = []
    for j in range(t.n_categories):
        denom = n_units * m * (m - 1) * p[j] * (1 - p[j])
        if denom <= _EPS:
            out.append(_undefined("no variation in this category"))
        else:
            out.append(_ok(1 - disagree[j] / denom))
    return out


# ---------------------------------------------------------------- two raters


def cohen_kappa_table(table: np.ndarray) -> Estimate:
    """Cohen's (1960) kappa from a square contingency table (rows rater 1, cols rater 2)."""
    tab = np.asarray(table, dtype=np.float64)
    n = tab.sum()
    if n == 0:
        return _undefined("no unit rated by both annotators")
    po = np.trace(tab) / n
    pe = float((tab.sum(axis=1) @ tab.sum(axis=0)) / (n * n))
    if 1 - pe < _EPS:
        return _undefined("no variation: both annotators used a single category")
    return _ok((po - pe) / (1 - pe))


def cohen_kappa_binary(
    n11: np.ndarray, n1_: np.ndarray, n_1: np.ndarray, n: np.ndarray
) -> np.ndarray:
    """Vectorised Cohen's kappa for many 2x2 tables given both-on, rater-1-on, rater-2-on, n.

    Returns NaN where undefined; callers turn NaN into None plus a reason.
    """
    n = np.asarray(n, np.float64)
    n11, n1_, n_1 = (np.asarray(x, np.float64) for x in (n11, n1_, n_1))
    n00 = n - n1_ - n_1 + n11
    with np.errstate(divide="ignore", invalid="ignore"):
        po = (n11 + n00) / n
        pe = (n1_ * n_1 + (n - n1_) * (n - n_1)) / (n * n)
        k = (po - pe) / (1 - pe)
    return np.where((n > 0) & (1 - pe > _EPS), k, np.nan)


def table_to_counts(table: np.ndarray) -> CountTable:
    """Two-rater contingency table -> count rows: cell (i, j) is units rated i and j."""
    tab = np.asarray(table, dtype=np.int64)
    q = tab.shape[0]
    rows, weights = [], []
    for i in range(q):
        for j in range(q):
            if tab[i, j]:
                row = np.zeros(q, np.int64)
                row[i] += 1
                row[j] += 1
                rows.append(row)
                weights.append(tab[i, j])
    if not rows:
        return CountTable(np.zeros((0, q), np.int64), np.zeros(0, np.int64))
    return CountTable(np.array(rows), np.array(weights, np.int64))


def as_float(x: float | None) -> float | None:
    """JSON-safe float: numpy scalars to float, NaN/inf to None."""
    if x is None:
        return None
    f = float(x)
    return f if np.isfinite(f) else None


# ---------------------------------------------------------------- ordered scales

Level = Literal["nominal", "ordinal", "interval"]


def distance_matrix(level: str, marginals: np.ndarray) -> np.ndarray:
    """Krippendorff's squared difference function delta^2[c, k] for categories in scale
    order (Krippendorff 2011, "Computing Krippendorff's alpha-reliability", sec. E):
    nominal 0/1; ordinal (sum_{g=c}^{k} n_g - (n_c + n_k)/2)^2 with n_g the values'
    marginals; interval (c - k)^2 on the categories' positions 1..q."""
    q = len(marginals)
    idx = np.arange(q)
    if level == "nominal":
        return 1.0 - np.eye(q)
    if level == "interval":
        return (idx[:, None] - idx[None, :]).astype(np.float64) ** 2
    if level == "ordinal":
        cum = np.concatenate([[0.0], np.cumsum(marginals, dtype=np.float64)])
        lo, hi = np.minimum(idx[:, None], idx[None, :]), np.maximum(idx[:, None], idx[None, :])
        between = cum[hi + 1] - cum[lo]
        return (between - (marginals[:, None] + marginals[None, :]) / 2.0) ** 2
    raise ValueError(f"unknown level of measurement {level!r}")


def krippendorff_alpha_level(t: CountTable, level: str = "nominal") -> Estimate:
    """Krippendorff's alpha at a level of measurement, the columns of `t` being the
    categories in scale order; from the coincidence matrix (Krippendorff 2011):
    alpha = 1 - (n - 1) sum_u (r_u' D r_u) / (m_u - 1) / (n' D n), pairable units only."""
    if level == "nominal":
        return krippendorff_alpha(t)
    p = _pairable(t)
    w = p.weights.astype(np.float64)
    if w.sum() == 0:
        return _undefined("no unit has two or more ratings")
    rows = p.rows.astype(np.float64)
    m = rows.sum(axis=1)
    marg = w @ rows
    n = float(marg.sum())
    d = distance_matrix(level, marg)
    observed = float(w @ (np.einsum("pc,ck,pk->p", rows, d, rows) / (m - 1)))
    expected = float(marg @ d @ marg)
    if expected <= _EPS * max(n * n, 1.0):
        return _undefined("no variation: every pairable rating is in the same category")
    return _ok(1.0 - (n - 1.0) * observed / expected)


def agreement_weights(kind: str, q: int) -> np.ndarray:
    """Gwet's (2014, ch. 3) agreement weights on q ordered categories: identity
    (nominal), linear 1 - |k - l|/(q - 1), quadratic 1 - (k - l)^2/(q - 1)^2."""
    idx = np.arange(q, dtype=np.float64)
    if kind in ("identity", "nominal") or q < 2:
        return np.eye(q)
    diff = np.abs(idx[:, None] - idx[None, :]) / (q - 1)
    if kind == "linear":
        return 1.0 - diff
    if kind == "quadratic":
        return 1.0 - diff**2
    raise ValueError(f"unknown weights {kind!r}")


def gwet_ac2(t: CountTable, weights: np.ndarray) -> Estimate:
    """Gwet's AC2 for several raters with missing ratings (Gwet 2014, ch. 4; irrCAC's
    gwet with weights): pa = mean over units with >= 2 ratings of
    sum_k r_k (r*_k - 1) / (r (r - 1)), r*_k = sum_l w_kl r_l; pe = T_w / (q (q - 1))
    sum_k pi_k (1 - pi_k), T_w = sum of the weights, pi_k as for AC1."""
    q = t.n_categories
    if q < 2:
        return _undefined("fewer than two categories")
    p = _pairable(t)
    w = p.weights.astype(np.float64)
    if w.sum() == 0:
        return _undefined("no unit has two or more ratings")
    rows = p.rows.astype(np.float64)
    r = rows.sum(axis=1)
    star = rows @ weights.T
    pa = float(w @ ((rows * (star - 1)).sum(axis=1) / (r * (r - 1))) / w.sum())
    pi = _category_shares(t)
    assert pi is not None
    pe = float(weights.sum() / (q * (q - 1)) * (pi * (1 - pi)).sum())
    if 1 - pe < _EPS:
        return _undefined("no variation: chance agreement is 1")
    return _ok((pa - pe) / (1 - pe))


def cohen_kappa_weighted(table: np.ndarray, weights: np.ndarray) -> Estimate:
    """Cohen's (1968) weighted kappa from a contingency table and agreement weights:
    1 - sum (1 - w) o / sum (1 - w) e (scikit-learn's cohen_kappa_score with
    weights="linear" / "quadratic" for the matching weights)."""
    tab = np.asarray(table, dtype=np.float64)
    n = tab.sum()
    if n == 0:
        return _undefined("no unit rated by both annotators")
    dis = 1.0 - weights
    expected = np.outer(tab.sum(axis=1), tab.sum(axis=0)) / n
    denom = float((dis * expected).sum())
    if denom <= _EPS * n:
        return _undefined("no variation: both annotators used a single category")
    return _ok(1.0 - float((dis * tab).sum()) / denom)


# ---------------------------------------------------------------- sets (MASI)

# Passonneau (2006): monotonicity 1 (identical), 2/3 (one a subset of the other), 1/3
# (overlapping), 0 (disjoint), as NLTK's masi_distance.
MASI_MONOTONICITY = (1.0, 2.0 / 3.0, 1.0 / 3.0, 0.0)


def masi_distances(a: np.ndarray, b: np.ndarray,
                   monotonicity: tuple[float, float, float, float] = MASI_MONOTONICITY
                   ) -> np.ndarray:
    """MASI distance (Passonneau 2006) between label sets given as bool rows a[i, L],
    b[i, L]: 1 - J * M, J the Jaccard index; two empty sets are identical (0)."""
    inter = np.count_nonzero(a & b, axis=-1)
    na, nb = np.count_nonzero(a, axis=-1), np.count_nonzero(b, axis=-1)
    return _masi_of_sizes(inter, na, nb, monotonicity)


def _masi_of_sizes(inter: np.ndarray, na: np.ndarray, nb: np.ndarray,
                   monotonicity: tuple[float, float, float, float]) -> np.ndarray:
    """MASI distance from |A & B|, |A| and |B| alone (all it depends on)."""
    union = na + nb - inter
    m = np.where((inter == na) & (inter == nb), monotonicity[0],
                 np.where(inter == np.minimum(na, nb), monotonicity[1],
                          np.where(inter > 0, monotonicity[2], monotonicity[3])))
    with np.errstate(invalid="ignore", divide="ignore"):
        jaccard = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return 1.0 - jaccard * m


_POP16 = np.zeros(1 << 16, np.int8)
for _bit in range(16):
    _POP16[1 << _bit:2 << _bit] = _POP16[:1 << _bit] + 1


def _popcount(x: np.ndarray, bits: int = 64) -> np.ndarray:
    """Bits set in each non-negative int64 of x, whose values are below 2**bits: one
    16-bit table lookup per 16 bits that can be set (a 20-label set: two, not four)."""
    b = np.ascontiguousarray(x, dtype=np.int64)
    if bits <= 16:
        return _POP16[b].astype(np.int64)
    if bits <= 32:
        return _POP16[b & 0xFFFF].astype(np.int64) + _POP16[b >> 16]
    return _POP16[b.view(np.uint16).reshape(*b.shape, 4)].sum(axis=-1, dtype=np.int64)


def _exact_gram(z: np.ndarray) -> np.ndarray:
    """z.T @ z exactly, in int64, for a non-negative int32 matrix z: numpy's integer
    matmul has no BLAS kernel (~1 s on 2**20 x 15), so z is split into 16-bit halves
    and each product of halves taken as a float64 matmul, exact while every sum stays
    below 2**53 (rows * 2**32, checked), then recombined in integers."""
    if z.dtype != np.int32 or len(z) >= 1 << 21:
        zz = z.astype(np.int64)
        return zz.T @ zz
    peak = int(z.max(initial=0))
    if peak * peak * len(z) < 2**53:  # small counts: one product is exact already
        f = z.astype(np.float64)
        return (f.T @ f).astype(np.int64)
    lo = (z & 0xFFFF).astype(np.float64)
    hi = (z >> 16).astype(np.float64)
    ll = (lo.T @ lo).astype(np.int64)
    lh = (lo.T @ hi).astype(np.int64)
    hh = (hi.T @ hi).astype(np.int64)
    return (hh << 32) + ((lh + lh.T) << 16) + ll


def _masi_expected_by_subsets(codes: np.ndarray, counts: np.ndarray, n_lab: int,
                              monotonicity: tuple[float, float, float, float]) -> float:
    """sum over pairs of values (s, t) of count(s) * count(t) * MASI(s, t), exactly,
    without the distinct sets x distinct sets matrix (which a million units make far
    too large): MASI depends only on |s|, |t| and |s & t|, and the number of pairs
    per (|s|, |t|, |s & t|) comes from superset sums over the 2**L subsets
    (g(u) = pairs with s & t containing u, then Moebius inversion by |u|)."""
    sizes = _popcount(codes, n_lab)
    top = int(sizes.max()) + 1
    # z[u, a]: values of size a containing u (int32 while the values' count fits)
    dtype = np.int32 if int(counts.sum()) < 2**31 else np.int64
    z = np.zeros((1 << n_lab, top), dtype)
    np.add.at(z, (codes, sizes), counts.astype(dtype))
    for bit in range(n_lab):  # superset sums, one bit at a time
        v = z.reshape(-1, 2, 1 << bit, top)
        v[:, 0] += v[:, 1]
    pc = np.zeros(1 << n_lab, np.int8)  # |u| of every subset u
    for bit in range(n_lab):
        pc[1 << bit:2 << bit] = pc[:1 << bit] + 1
    # the subsets grouped by |u| (one stable sort instead of a mask per size)
    order = np.argsort(pc, kind="stable")
    bounds = np.searchsorted(pc[order], np.arange(top + 1))
    g = [None] * (n_lab + 1)  # g[j][a, b]: pairs (s, t) with s & t containing some |u| = j
    for j in range(top):  # |s & t| <= the largest set
        zj = z[order[bounds[j]:bounds[j + 1]]]
        g[j] = [[int(x) for x in row] for row in _exact_gram(zj)]
    # pairs with |s & t| = k exactly: sum_j (-1)^(j-k) C(j, k) g[j] (Python integers:
    # the alternating sum is exact), then each (|s|, |t|, k) class's distance once
    ks, as_, bs, ns = [], [], [], []
    for a in range(top):
        for b in range(top):
            for k in range(min(a, b) + 1):
                n = sum((-1) ** (j - k) * math.comb(j, k) * g[j][a][b]
                        for j in range(k, min(a, b) + 1) if g[j] is not None)
                if n:
                    ks.append(k)
                    as_.append(a)
                    bs.append(b)
                    ns.append(float(n))
    if not ns:
        return 0.0
    d = _masi_of_sizes(np.array(ks), np.array(as_), np.array(bs), monotonicity)
    total = float(np.dot(np.array(ns), d))
    return total


def masi_alpha(on: np.ndarray, rated: np.ndarray,
               monotonicity: tuple[float, float, float, float] = MASI_MONOTONICITY
               ) -> tuple[Estimate, int]:
    """Krippendorff's alpha over label sets with the MASI distance (Passonneau 2006;
    NLTK's AnnotationTask(distance=masi_distance).alpha()): each rated (unit,
    annotator) is one value, its set of labels on. `on` bool [U, A, L], `rated` bool
    [U, A]. Returns (alpha, pairable units)."""
    m = rated.sum(axis=1)
    pair_units = np.flatnonzero(m >= 2)
    if len(pair_units) == 0:
        return _undefined("no unit has two or more ratings"), 0
    n_lab = on.shape[2]
    n_annot = rated.shape[1]
    observed = 0.0
    if n_lab <= 62:
        # every rated value as a bit code (its set), its size; the rated pairs'
        # distances from the codes; the expected term without the distinct sets x
        # distinct sets matrix when that would be large (a million units). Packed
        # before the pairable units are taken: 8x fewer bytes to gather.
        packed = np.packbits(on, axis=2, bitorder="little")
        if packed.shape[2] < 8:
            packed = np.concatenate(
                [packed, np.zeros((*packed.shape[:2], 8 - packed.shape[2]), np.uint8)], axis=2)
        value = np.ascontiguousarray(packed).view("<i8")[:, :, 0][pair_units]
        rated = rated[pair_units]
        m = m[pair_units].astype(np.float64)
        n = float(m.sum())
        value = np.where(rated, value, 0)
        size = _popcount(value, n_lab)
        # MASI depends only on (|s|, |t|, |s & t|): the rated pairs' weights
        # 1 / (m - 1) summed per class (bincount), then each class's distance once
        top = n_lab + 1
        w = 1.0 / (m - 1.0)
        hist = np.zeros(top ** 3)
        for i in range(n_annot):
            for j in range(i + 1, n_annot):  # (i, j) and (j, i) alike
                both = np.flatnonzero(rated[:, i] & rated[:, j])
                ci, cj = value[both, i], value[both, j]
                cls = (size[both, i] * top + size[both, j]) * top + _popcount(ci & cj, n_lab)
                hist += np.bincount(cls, weights=w[both], minlength=top ** 3)
        grid = np.indices((top, top, top)).reshape(3, -1)
        keep = np.flatnonzero(hist)
        observed = 2.0 * float(hist[keep] @ _masi_of_sizes(
            grid[2, keep], grid[0, keep], grid[1, keep], monotonicity))
        uniq, counts = np.unique(value[rated], return_counts=True)
        # pairwise over the distinct sets costs ~len(uniq)**2, the subset sums ~2**L
        if n_lab > 20 or len(uniq) ** 2 < (1 << n_lab) * 16:
            sets = ((uniq[:, None] >> np.arange(n_lab)) & 1).astype(bool)
            d = masi_distances(sets[:, None, :], sets[None, :, :], monotonicity)
            expected = float(counts.astype(np.float64) @ d @ counts.astype(np.float64))
        else:
            expected = _masi_expected_by_subsets(uniq, counts.astype(np.int64), n_lab,
                                                 monotonicity)
    else:
        on = on[pair_units]
        rated = rated[pair_units]
        m = m[pair_units].astype(np.float64)
        n = float(m.sum())
        flat = on[rated]  # distinct sets as rows; each value the index of its set
        sets, inverse, counts = np.unique(flat, axis=0, return_inverse=True, return_counts=True)
        d = masi_distances(sets[:, None, :], sets[None, :, :], monotonicity)
        value = np.full(rated.shape, -1, np.int64)
        value[rated] = inverse.ravel()
        for i in range(n_annot):
            for j in range(n_annot):
                if i == j:
                    continue
                both = rated[:, i] & rated[:, j]
                observed += float((d[value[both, i], value[both, j]] / (m[both] - 1)).sum())
        counts = counts.astype(np.float64)
        expected = float(counts @ d @ counts)
    if expected <= _EPS * n * n:
        return _undefined("no variation: every annotator gave every unit the same set"), \
            len(pair_units)
    return _ok(1.0 - (n - 1.0) * observed / expected), len(pair_units)
