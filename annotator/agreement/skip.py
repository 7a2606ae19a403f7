"""Agreement on "not content" (PRODUCT.md "Skipping units that are not content").

A unit an annotator marked not content (status "skipped") leaves every other figure
for that annotator (ratings only count units marked done). The mark is itself a rated
decision: per unit, over the annotators who decided it (done or skipped), a binary
skipped / not skipped, measured as one label of a multi layer is (percent agreement,
Krippendorff's alpha with its bootstrap interval, Gwet's AC1, Fleiss' kappa, Cohen's
kappa with two annotators). The store and an export give the same `skip_agreement`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..schema import LabelSchema
from .coefficients import cohen_kappa_binary
from .from_store import _Numbering, _ratings, read_columns
from .ratings import Ratings, _name
from .report import _binary_table, _no_two, _nominal_block, _Obj, _plain


@dataclass
class SkipTable:
    annotators: list[str]
    decided: np.ndarray  # bool [U, A]: done or skipped
    skipped: np.ndarray  # bool [U, A]


class SkipCollector:
    """Passes export records through (to `build_ratings`) and notes, on the way, who
    decided which unit and who marked it not content. A repeated (unit, annotator) pair
    keeps the last annotation, as `build_ratings` does."""

    def __init__(self, records: Iterable[dict]):
        self._records = records
        self._units: dict[tuple[str, int], int] = {}
        self._status: dict[tuple[int, str], bool] = {}  # -> skipped

    def __iter__(self) -> Iterator[dict]:
        for rec in self._records:
            key = (str(rec.get("doc_id")), int(rec.get("paragraph", 0) or 0))
            u = self._units.setdefault(key, len(self._units))
            for ann in rec.get("annotations") or ():
                status = ann.get("status", "done")
                if status in ("done", "skipped"):
                    self._status[(u, _name(ann.get("annotator")))] = status == "skipped"
            yield rec

    def table(self) -> SkipTable:
        names = sorted({a for _, a in self._status})
        col = {a: i for i, a in enumerate(names)}
        decided = np.zeros((len(self._units), len(names)), bool)
        skipped = np.zeros_like(decided)
        for (u, a), skip in self._status.items():
            decided[u, col[a]] = True
            skipped[u, col[a]] = skip
        return SkipTable(names, decided, skipped)


def store_ratings_and_skips(store, schema: LabelSchema | None) -> tuple[Ratings, SkipTable]:
    """Ratings (`ratings_from_store`) and the skip table, read as of one moment, in one
    parallel pass over the journals, with one unit numbering for both."""
    journals = store.reading_journals()
    with store.snapshot(journals):
        base = store.key_base()
        read = read_columns(journals, base)
        numbering = _Numbering(store, base)
        ratings = _ratings(store, schema, journals, read, numbering)
    cols = {a: c[1] for a, c in read.items()}
    names = sorted(a for a, (decided, _) in cols.items() if len(decided))
    decided_dense = [numbering.dense(cols[a][0]) for a in names]
    n_units, lookup = numbering.units(decided_dense)
    decided = np.zeros((n_units, len(names)), bool)
    skipped = np.zeros_like(decided)
    for i, a in enumerate(names):
        pos = lookup[decided_dense[i]]
        decided[pos[pos >= 0], i] = True
        pos = lookup[numbering.dense(cols[a][1])]
        skipped[pos[pos >= 0], i] = True
    return ratings, SkipTable(names, decided, skipped)


def skip_agreement(table: SkipTable, bootstrap: int = 1000, seed: int = 0) -> dict:
    """The report's `skip_agreement` object."""
    decided, skipped = table.decided, table.skipped
    active = np.flatnonzero(decided.any(axis=0))
    m = decided.sum(axis=1)
    n_on = skipped.sum(axis=1)
    obj = _Obj(kind="binary")
    total = int(m.sum())
    obj.put("prevalence", float(n_on.sum()) / total if total else None, "no decisions")
    obj["skipped"] = {a: int(skipped[:, i].sum()) for i, a in enumerate(table.annotators)}
    t = _binary_table(n_on, m, len(table.annotators) + 1)
    _nominal_block(obj, t, 2, len(active), bootstrap, seed, ("(skip)",))
    if len(active) == 2:
        a, b = (int(x) for x in active)
        both = decided[:, a] & decided[:, b]
        x, y = skipped[both, a], skipped[both, b]
        kappa = cohen_kappa_binary(np.array([np.count_nonzero(x & y)]),
                                   np.array([np.count_nonzero(x)]),
                                   np.array([np.count_nonzero(y)]), np.array([both.sum()]))[0]
        obj.put("cohen_kappa", kappa, "no unit decided by both annotators" if not both.any()
                else "no variation: both annotators made the same choice throughout")
    else:
        obj.put("cohen_kappa", None, _no_two(len(active)))
    return _plain(obj)


def format_skip(obj: dict) -> str:
    """The text report's lines for `skip_agreement` (after the table)."""
    def fmt(v: object) -> str:
        return "—" if v is None else f"{v:.3f}"

    counts = ", ".join(f"{a} {n}" for a, n in obj.get("skipped", {}).items()) or "none"
    return (f"not content (skipped or not, over {obj.get('units', 0)} unit(s) decided by two "
            f"or more): percent agreement {fmt(obj.get('percent_agreement'))}, alpha "
            f"{fmt(obj.get('krippendorff_alpha'))}, AC1 {fmt(obj.get('gwet_ac1'))}; "
            f"skipped: {counts}\n")
