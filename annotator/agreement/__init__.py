"""Inter-annotator agreement: nominal coefficients, span agreement, bootstrap CIs, report.

Textual-free and numpy-vectorised. See docs/agreement.md for the definitions used.
"""

from .bootstrap import alpha_ci95, bootstrap_alpha
from .coefficients import (
    CountTable,
    Estimate,
    brennan_prediger,
    cohen_kappa_table,
    count_table,
    counts_from_ratings,
    fleiss_category_kappas,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    percent_agreement,
    table_to_counts,
)
from .from_store import ratings_from_store
from .ratings import NONE_KEY, Ratings, RatingsCollector, build_ratings, ratings_from_columns
from .report import compute_report, unit_agreement
from .run import ratings_from_export, run_agreement
from .spans import UNITIZED_ALPHA_DEFINITION, unitized_alpha, unitized_alpha_sections
from .table import format_table

__all__ = [
    "NONE_KEY",
    "UNITIZED_ALPHA_DEFINITION",
    "CountTable",
    "Estimate",
    "Ratings",
    "RatingsCollector",
    "alpha_ci95",
    "bootstrap_alpha",
    "brennan_prediger",
    "build_ratings",
    "cohen_kappa_table",
    "compute_report",
    "count_table",
    "counts_from_ratings",
    "fleiss_category_kappas",
    "fleiss_kappa",
    "format_table",
    "gwet_ac1",
    "krippendorff_alpha",
    "percent_agreement",
    "run_agreement",
    "ratings_from_columns",
    "ratings_from_export",
    "ratings_from_store",
    "table_to_counts",
    "unit_agreement",
    "unitized_alpha",
    "unitized_alpha_sections",
]
