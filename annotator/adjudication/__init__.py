"""Adjudication: annotators' versions compared, merged and decided into the gold
journal (reserved name `gold`). Textual-free; the screen is tui/adjudicate.py."""

from annotator.adjudication.merge import STRATEGIES, disagreements, merged, sided_with
from annotator.adjudication.roles import curator_name, may_curate
from annotator.store.base import GOLD

__all__ = ["GOLD", "STRATEGIES", "curator_name", "disagreements", "may_curate", "merged",
           "sided_with"]
