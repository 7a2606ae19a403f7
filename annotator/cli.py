"""The command line: a thin layer over the core. Every command has --help.

Exit codes: 0 success, 1 invalid input (clear message, no traceback), 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
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
                   help="annotator name (default: your login name; in a team project the "
                        "name mapped to your login, and only those may be given)")
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
                       description="Agreement from the project store, or from an export file "
                                   "alone. Paragraph layers: percent agreement, Krippendorff's "
                                   "alpha (nominal), Gwet's AC1, Fleiss' and Cohen's kappa; span "
                                   "layers: pairwise F1 (exact, overlap) and unitized alpha. See "
                                   "docs/agreement.md for definitions and citations.")
    p.add_argument("export", nargs="?", metavar="EXPORT.jsonl",
                   help="an export file (default: the project store)")
    _schema_arg(p, "(needed when some labels were never used)")
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                   help="bootstrap resamples for alpha's 95%% interval (0: none; default 1000)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="random seed of the bootstrap (default 0)")
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

    p = sub.add_parser("team", help="a team on one server: set-up and check",
                       description="A team on one server (README, \"A team on one server\"; "
                                   "docs/team.md): `team init` (the lead) sets the project "
                                   "directory up so that no annotator can read another's "
                                   "journal while blind, or change settings, schema or "
                                   "corpus; `team status` shows who is mapped, the journals, "
                                   "and anything out of place (exit 1).")
    tsub = p.add_subparsers(dest="team_command", metavar="SUBCOMMAND", required=True)
    t = tsub.add_parser("init", help="set the project directory up (the lead)",
                        description="Run as the lead, after writing the team: section of "
                                    "annotator.yaml. Makes everything the project trusts "
                                    "yours and read-only to the group, and the journals "
                                    "directory one where each member makes their own.")
    t.add_argument("--group", required=True, metavar="G",
                   help="the Unix group of the annotators (you must be in it)")
    t.add_argument("--curators-group", metavar="C", default=None,
                   help="a group holding the curators (and you): they read every journal "
                        "during the round; required when the team has curators")
    _project_arg(t)
    t = tsub.add_parser("status", help="who is mapped, the journals, problems (exit 1)")
    _project_arg(t)
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

    project = Project(args.project)
    for w in project.warnings:
        print(f"annotator: warning: {w}", file=sys.stderr)
    return project


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

    project.check_corpus(paths)
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
    if args.annotator is not None:
        check_annotator_name(args.annotator)
    project = _project(args)
    if project.team is not None:
        from annotator.team.roles import current_login

        name = project.team.act_as(current_login(), args.annotator)
    else:
        name = args.annotator or default_annotator()
    check_annotator_name(name)
    schema = project.load_schema(args.schema)
    paths = [Path(args.corpus)] if args.corpus else project.corpus_paths()
    if paths and project.is_lead():
        stats = _import(project, paths, only_changed=True)
        if stats.files:
            _print_import(stats)
    elif paths and project.has_store():
        # corpus.db is the lead's: an annotator never writes it, only says so
        from annotator.importer import changed_files

        changed = changed_files(project.store, paths)
        if changed:
            print(f"annotator: warning: {len(changed)} corpus file(s) changed since the lead "
                  f"imported them (e.g. {changed[0]}); you see the imported text. Ask the lead "
                  f"({project.team.lead}) to run `annotator import`", file=sys.stderr)
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
    from annotator.export import Killed, iter_records, write_export_file, write_records

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
    try:
        n = write_export_file(records, out)
    except Killed as exc:
        print(f"annotator: export stopped ({exc}): nothing was written to {out}",
              file=sys.stderr)
        return 128 + exc.signum
    except OSError as exc:
        if exc.filename:
            raise
        # a failed write() names no file: say which, and that nothing was left
        raise InputError(f"could not write the export ({exc.strerror or exc}): nothing was "
                         "written", out) from None
    finally:
        bar.close()
    print(f"wrote {n:,} record(s) to {out}", file=sys.stderr)
    return 0


def cmd_agreement(args: argparse.Namespace) -> int:
    from annotator import agreement

    if not 0 <= args.bootstrap <= 100_000:
        raise UsageError("--bootstrap must be between 0 and 100000")
    if args.seed < 0:
        raise UsageError("--seed must be 0 or more")
    if args.export:
        from annotator.validate import read_export_records

        records = read_export_records(Path(args.export))
        first = next(records, None)
        schema = _export_schema(args, first)
        ratings = agreement.build_ratings(
            itertools.chain([first] if first else [], records), schema)
    else:
        project = _project(args)
        _existing_store(project)
        schema = project.load_schema(args.schema)
        ratings = agreement.ratings_from_store(project.store, schema)
    report = agreement.compute_report(ratings, schema, bootstrap=args.bootstrap, seed=args.seed)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False))
    else:
        print(agreement.format_table(report))
    return 0


def _export_schema(args: argparse.Namespace, first: dict | None):
    """--schema, else the schema the export's records name (labels nobody used then
    still count); None when it is not in the project's schemas/."""
    from annotator.schema import load_schema
    from annotator.validate import schema_for_export

    if args.schema:
        return load_schema(args.schema)
    if first is None:
        return None
    found = schema_for_export(first["schema"], args.project)
    if found is None:
        ref = first["schema"]
        print(f"annotator: warning: schema {ref['id']!r} version {ref['version']} not found "
              "in schemas/: layers and labels are taken from the export alone (give "
              "--schema to count labels nobody used)", file=sys.stderr)
    return found


def cmd_validate(args: argparse.Namespace) -> int:
    from annotator.validate import validate_file

    problems = []
    for f in args.files:
        problems.extend(validate_file(Path(f), schema=args.schema, project_dir=args.project))
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"{len(args.files)} file(s) valid", file=sys.stderr)
    return 0


def cmd_team(args: argparse.Namespace) -> int:
    if args.team_command == "init":
        from annotator.team.setup import team_init

        done, problems = team_init(_project(args), args.group, args.curators_group)
        for line in done:
            print(line)
        for p in problems:
            print(f"annotator: problem: {p}", file=sys.stderr)
        return 1 if problems else 0
    from annotator.team.check import format_team_status, team_status

    status = team_status(_project(args))
    print(format_team_status(status))
    return 1 if status["problems"] else 0


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
