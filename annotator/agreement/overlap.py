"""How many units each annotator pair shares, and a warning where that is too few for a
kappa to say much (docs/agreement.md "Pairs and overlap"). With assignments
(`annotator assign`) pairs share only part of the corpus, by design."""

from __future__ import annotations

# Below this many shared units a pair's Cohen's kappa is reported, but flagged: its
# bootstrap interval is then typically wider than the distinctions readers draw.
MIN_SHARED_UNITS = 30


def mark_pair_overlap(report: dict, minimum: int = MIN_SHARED_UNITS) -> None:
    """Set `too_few_units` on each pair of the report and add a warning for each pair
    that shares fewer than `minimum` units."""
    for pair in report.get("pairs") or ():
        n = int(pair.get("units") or 0)
        pair["too_few_units"] = n < minimum
        if n == 0:
            report["warnings"].append(
                f"{pair['a']} and {pair['b']} share no unit: no kappa for this pair "
                "(assign overlapping documents: annotator assign --per-document 2 or more)")
        elif n < minimum:
            report["warnings"].append(
                f"{pair['a']} and {pair['b']} share only {n} unit(s): too few for a "
                f"reliable kappa (fewer than {minimum}); read this pair's figures with care")
