"""The command line: a thin layer over the core. Every command has --help.

Exit codes: 0 success, 1 invalid input (clear message, no traceback), 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
from datetime import date
from pathlib import Path

from annotator import __version__
from annotator.errors import InputError, UsageError
from annotator.progress import ProgressBar

EPILOG = """\
examples:
  annotator annotate                      open the project's corpus (here: the demo)
  annotator annotate corpora/demo --as alice
  annotator import news/ --project study1
  annotator export --out exports/round1.jsonl
  annotator agreement exports/round1.jsonl --json --bootstrap 1000 --seed 1
  annotator validate schemas/*.yaml exports/round1.jsonl
  annotator status
"""


def _project_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", metavar="DIR", default=None,
                   help="project directory (default: the current directory)")


def _schema_arg(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--schema", metavar="F", default=None,
                   help=f"label schema YAML {what} (default: the project's, from annotator.yaml, "
                        "else schemas/framing-devices.yaml)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="annotator",
        description="Annotate framing devices and propaganda techniques in news articles, "
                    "paragraph by paragraph, against a YAML label schema; export JSONL and "
                    "compute inter-annotator agreement.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"annotator {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("annotate", help="open the annotation screen (the TUI)",
                       description="Open the annotation screen where you stopped last time, or "
                                   "at the first unit you have not annotated. CORPUS (a file or "
                                   "folder of .txt, .md, .jsonl) is imported on first use and "
                                   "re-imported when it changed. Every action is stored before "
                                   "the screen shows it; press ? inside for the keys.")
    p.add_argument("corpus", nargs="?", metavar="CORPUS",
                   help="corpus file or folder (default: the project's corpus)")
    _schema_arg(p, "to annotate against")
    p.add_argument("--as", dest="annotator", metavar="NAME", default=None,
                   help="annotator name (default: your login name)")
    _project_arg(p)

    p = sub.add_parser("import", help="import documents into the project store",
                       description="Import .txt, .md and .jsonl files (folders recursively). "
                                   "Unchanged documents are kept; where a paragraph changed under "
                                   "existing annotations, those are kept and flagged. A file with "
                                   "an error imports nothing, and neither does this command.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    _project_arg(p)

    p = sub.add_parser("export", help="export annotations as JSONL",
                       description="Write one JSON line per unit that any annotator marked "
                                   "done (see schemas/export-record.schema.json).")
    p.add_argument("--out", metavar="F", default=None,
                   help="output file; '-' for stdout (default: stdout when no --out is given "
                        "and stdout is not a terminal, else exports/<date>-<schema>.jsonl)")
    _schema_arg(p, "the export names")
    _project_arg(p)

    p = sub.add_parser("agreement", help="inter-annotator agreement statistics",
                       description="Agreement from the project store, or from an export file. "
                                   "An export is checked as `annotator validate` checks it and "
                                   "refused with the same messages; it needs the label schema "
                                   "its records name (in the project's schemas/, or given with "
                                   "--schema; records from another tool name none). Paragraph "
                                   "layers: percent agreement, Krippendorff's alpha (at the "
                                   "layer's scale), Gwet's AC1 / AC2, Fleiss' kappa (complete "
                                   "units, and Gwet's missing-data extension), Cohen's kappa "
                                   "(weighted on ordinal / interval layers), MASI alpha on multi "
                                   "layers; span layers: pairwise F1 (exact, overlap), unitized "
                                   "alpha and gamma. Every figure states its base (units, "
                                   "raters). See docs/agreement.md for definitions and "
                                   "citations.")
    p.add_argument("export", nargs="?", metavar="EXPORT.jsonl",
                   help="an export file (default: the project store)")
    _schema_arg(p, "(default: the one the export's records name)")
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                   help="bootstrap resamples for alpha's 95%% interval (0: none; default 1000)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="random seed of the bootstrap and of gamma's Monte-Carlo expected "
                        "disorder (default 0)")
    p.add_argument("--merge-names", action="store_true",
                   help="count annotator names that differ only by case or Unicode "
                        "normalisation as one annotator (said in a warning); without it "
                        "such names are an error")
    _project_arg(p)

    p = sub.add_parser("validate", help="validate schemas, exports and annotator.yaml",
                       description="Validate label schemas (.yaml), exports (.jsonl, against "
                                   "the schema they name: found in the project's schemas/ or "
                                   "given with --schema) and annotator.yaml. Prints "
                                   "path:line:col: message for each problem.")
    p.add_argument("files", nargs="+", metavar="FILE")
    _schema_arg(p, "for exports")
    _project_arg(p)

    p = sub.add_parser("status", help="progress per annotator and document",
                       description="Progress per annotator and document. Annotations whose "
                                   "layer or label is no longer in the schema, and those on "
                                   "paragraphs that changed since, are listed (never dropped).")
    _schema_arg(p, "to check annotations against")
    p.add_argument("--check", action="store_true",
                   help="also test every journal: SQLite's integrity check, then replay all "
                        "its events and compare with the stored state (exit 1 if damaged)")
    _project_arg(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "annotate"
    if args.command is None:
        args = parser.parse_args(["annotate", *(argv if argv is not None else sys.argv[1:])])
    try:
        handler = globals()[f"cmd_{command}"]
        return handler(args) or 0
    except InputError as exc:
        for problem in exc.problems:
            print(f"annotator: {problem}", file=sys.stderr)
        return 1
    except UsageError as exc:
        print(f"annotator: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # before OSError, of which it is one
        # `annotator export | head`: the reader left; not an error of ours.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0
    except OSError as exc:  # unreadable file, full disk, read-only directory ...
        from annotator.textclean import safe_message

        where = safe_message(str(exc.filename or ""))
        print(f"annotator: {where}{': ' if where else ''}{exc.strerror or exc}",
              file=sys.stderr)
        return 1
    except sqlite3.Error as exc:  # e.g. a store another process holds locked too long
        print(f"annotator: the project store: {exc}", file=sys.stderr)
        return 1


def _project(args: argparse.Namespace):
    from annotator.project import Project

    return Project(args.project)


def _existing_store(project) -> None:
    """Commands that only read: a directory without a store is told so, and is not
    left with an empty `.annotator/`."""
    if not project.has_store():
        raise InputError("no documents imported here yet (there is no .annotator/ store): "
                         "run `annotator import PATH` or `annotator annotate CORPUS` first, "
                         "or give --project DIR", project.root)


def _print_import(stats, out=None) -> None:
    out = out or sys.stderr
    print(f"imported {stats.files} file(s): {stats.new} new, {stats.changed} changed, "
          f"{stats.unchanged} unchanged document(s), {stats.units:,} unit(s)", file=out)
    for s in stats.skipped:
        print(f"annotator: warning: {s}", file=out)
    if stats.stale:
        print(f"annotator: warning: {len(stats.stale)} annotation(s) are on paragraphs whose "
              "text changed; they are kept and flagged (see `annotator status`):", file=out)
        for doc_id, unit, who in stats.stale[:20]:
            print(f"  {doc_id} unit {unit} ({who})", file=out)


def _import(project, paths: list[Path], only_changed: bool = False):
    from annotator.importer import import_paths

    bar = ProgressBar("importing", unit=" bytes")
    try:
        stats = import_paths(project.store, paths, project.root, progress=bar.update,
                             only_changed=only_changed)
    finally:
        bar.close()
    return stats


def cmd_import(args: argparse.Namespace) -> int:
    project = _project(args)
    stats = _import(project, [Path(p) for p in args.paths])
    _print_import(stats)
    return 0


def cmd_annotate(args: argparse.Namespace) -> int:
    from annotator.project import default_annotator
    from annotator.store.sqlite import check_annotator_name

    # Check the name before anything is imported or created.
    if args.annotator is not None and not args.annotator.strip():
        raise UsageError("--as needs a name")
    name = args.annotator or default_annotator()
    check_annotator_name(name)
    project = _project(args)
    schema = project.load_schema(args.schema)
    paths = [Path(args.corpus)] if args.corpus else project.corpus_paths()
    if paths:
        stats = _import(project, paths, only_changed=True)
        if stats.files:
            _print_import(stats)
    # The first test needs no store: a wrong directory is not left with an empty one.
    if not (paths or project.has_store()) or project.store.document_count() == 0:
        raise InputError("the project has no documents: give a CORPUS (file or folder), or "
                         "list one under 'corpus:' in annotator.yaml", project.root)
    journal = project.store.journal(name, schema)
    journal.claim()  # one session per annotator: a second one is refused with a message
    from annotator.tui.app import run_app

    try:
        return run_app(project.store, journal, schema)
    finally:
        project.close()


def cmd_export(args: argparse.Namespace) -> int:
    from annotator.export import iter_records, write_records

    project = _project(args)
    _existing_store(project)
    schema = project.load_schema(args.schema)
    to_stdout = args.out == "-" or (args.out is None and not sys.stdout.isatty())
    bar = ProgressBar("exporting", unit=" documents")
    records = iter_records(project.store, schema, progress=bar.update)
    out = None if to_stdout else Path(args.out) if args.out else (
        project.exports_dir() / f"{date.today().isoformat()}-{schema.id}.jsonl")
    if out is None or (out.exists() and (out.is_symlink() or not out.is_file())):
        # stdout, or a device, FIFO or link (e.g. /dev/stdout): write through it, never
        # replace it.
        try:
            if out is None:
                write_records(records, sys.stdout)
            else:
                with open(out, "w", encoding="utf-8") as fh:
                    write_records(records, fh)
        finally:
            bar.close()
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            n = write_records(records, fh)
        os.replace(tmp, out)  # nothing half-written under the real name
    except OSError as exc:
        if exc.filename:
            raise
        # a failed write() names no file: say which, and that nothing was left
        raise InputError(f"could not write the export ({exc.strerror or exc}): nothing was "
                         "written", out) from None
    finally:
        bar.close()
        if tmp.exists():
            tmp.unlink()
    print(f"wrote {n:,} record(s) to {out}", file=sys.stderr)
    return 0


def cmd_agreement(args: argparse.Namespace) -> int:
    from annotator import agreement

    if not 0 <= args.bootstrap <= 100_000:
        raise UsageError("--bootstrap must be between 0 and 100000")
    if args.seed < 0:
        raise UsageError("--seed must be 0 or more")
    bar = ProgressBar("reading", unit=" bytes")
    try:
        report = agreement.run_agreement(args.export, args.schema, args.project,
                                         bootstrap=args.bootstrap, seed=args.seed,
                                         merge_names=args.merge_names, progress=bar.update)
    finally:
        bar.close()
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False))
    else:
        print(agreement.format_table(report))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from annotator.validate import validate_file_with_warnings

    problems = []
    for f in args.files:
        bar = ProgressBar(f"validating {Path(f).name}", unit=" bytes")
        try:
            found, warnings = validate_file_with_warnings(
                Path(f), schema=args.schema, project_dir=args.project, progress=bar.update)
        finally:
            bar.close()
        problems.extend(found)
        for w in warnings:
            print(w)
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"{len(args.files)} file(s) valid", file=sys.stderr)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from annotator.status import format_status, project_status

    project = _project(args)
    schema = project.load_schema(args.schema)
    if not project.has_store():  # say so, and leave no empty .annotator/ behind
        print(f"schema {schema.id}: no documents imported yet\n\nno annotations yet")
        return 0
    status = project_status(project.store, schema, check=args.check)
    print(format_status(status))
    return 1 if status["damaged"] else 0
