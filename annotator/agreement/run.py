"""`annotator agreement` as one function: from an export file or from the project
store to the report. The CLI only parses arguments and prints what this returns.

From an export file, the file is read once by `validate.read_export`, the reader of
`annotator validate`: a file it finds problems in is refused (InputError, with the
same located messages `validate` prints), and the ratings come from the same pass.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from .ratings import Ratings, RatingsCollector
from .report import compute_report
from .skip import skip_agreement, store_ratings_and_skips


def ratings_from_export(path: Path, schema: str | Path | None = None,
                        project_dir: str | Path | None = None, merge_names: bool = False,
                        progress: Callable[[int, int], None] | None = None,
                        ) -> tuple[Ratings, object, list[str], dict[str, str]]:
    """(ratings, label schema, warnings, merged names) of a valid export file;
    InputError with every problem `annotator validate` would print otherwise."""
    from ..validate import read_export

    given = None
    if schema is not None:
        from ..schema import load_schema

        given = load_schema(schema)
    collector = RatingsCollector(given)
    read = read_export(Path(path), given, project_dir, sink=collector,
                       merge_names=merge_names, progress=progress)
    if read.problems:
        raise InputError(read.problems)
    collector.schema = read.schema
    ratings = collector.ratings(rename=read.rename)
    ratings.skips = collector.skip_table(rename=read.rename)
    return ratings, read.schema, [str(w) for w in read.warnings], dict(read.rename)


def run_agreement(export: str | Path | None = None, schema: str | Path | None = None,
                  project_dir: str | Path | None = None, bootstrap: int = 1000, seed: int = 0,
                  merge_names: bool = False,
                  progress: Callable[[int, int], None] | None = None,
                  store: str | None = None, against: str | None = None) -> dict:
    """The agreement report (PRODUCT.md "Agreement report") of an export file, or of the
    project store when `export` is None (`store`: its URL, as `--store` gives it; None:
    $ANNOTATOR_STORE or the project's). `against="gold"` adds `against_gold`: each
    annotator against the gold (the export's `gold` fields, or the gold journal).
    Problems of the input raise InputError."""
    if export is not None:
        # The collector off until the report is made: the reader's millions of objects
        # (no cycles among them) would otherwise be traversed by every collection that
        # follows (measured: ~0.04 s of 200,000 units)
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            ratings, label_schema, warnings, merged = ratings_from_export(
                Path(export), schema, project_dir, merge_names, progress)
            report = compute_report(ratings, label_schema, bootstrap=bootstrap, seed=seed)
        finally:
            if was_enabled:
                gc.enable()
        report["warnings"] = warnings + report["warnings"]
        if merged:
            report["merged_names"] = merged
        report["skip_agreement"] = skip_agreement(ratings.skips, bootstrap, seed)
        if against == "gold":
            from ..validate import read_export_records

            # the file is valid (read above): read again for its gold fields, against
            # the schema its records name
            report["against_gold"] = _against_gold(
                read_export_records(Path(export)), label_schema, bootstrap, seed, export)
        return report
    from ..project import Project

    project = Project(project_dir, store=store)
    try:
        if not project.has_store():
            raise InputError("no documents imported here yet (there is no .annotator/ store): "
                             "run `annotator import PATH` or `annotator annotate CORPUS` "
                             "first, or give --project DIR", project.root)
        label_schema = project.load_schema(schema)
        ratings, skips = store_ratings_and_skips(project.store, label_schema)
        report = compute_report(ratings, label_schema, bootstrap=bootstrap, seed=seed)
        report["skip_agreement"] = skip_agreement(skips, bootstrap, seed)
        if against == "gold":
            from ..export import iter_records
            from ..store.base import GOLD

            if not project.store.has_journal(GOLD):
                raise InputError("there is no gold yet: adjudicate first (`annotator "
                                 "adjudicate`)", project.root)
            report["against_gold"] = _against_gold(
                iter_records(project.store, label_schema, with_agreement=False),
                label_schema, bootstrap, seed, project.root)
        return report
    finally:
        project.close()


def _against_gold(records, schema, bootstrap: int, seed: int, where) -> dict:
    from .against_gold import against_gold

    section = against_gold(records, schema, bootstrap=bootstrap, seed=seed)
    if not section["gold_units"]:
        raise InputError("no unit has a gold yet: adjudicate first (`annotator adjudicate`)",
                         where)
    return section
