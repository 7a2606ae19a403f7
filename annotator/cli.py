"""The command line: a thin layer over the core. Every command has --help.

Exit codes: 0 success, 1 invalid input (clear message, no traceback), 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
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
  annotator adjudicate --as carol --anonymous
  annotator import news/ --project study1
  annotator export --out exports/round1.jsonl
  annotator agreement exports/round1.jsonl --json --bootstrap 1000 --seed 1
  annotator validate schemas/*.yaml exports/round1.jsonl
  annotator status
  annotator assign --per-document 2 --annotators alice,bob,carol --calibration 5 --show
  annotator serve --add-user alice        then: annotator serve (docs/serve.md)
"""


def _project_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", metavar="DIR", default=None,
                   help="project directory (default: the current directory)")
    p.add_argument("--store", metavar="URL", default=None,
                   help="'sqlite' (the embedded store under .annotator/) or a postgresql:// "
                        "URL (libpq; no password in it: ~/.pgpass, PGPASSFILE or a service "
                        "file); default: $ANNOTATOR_STORE, else store: in annotator.yaml, "
                        "else sqlite")


def _schema_arg(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--schema", metavar="F", default=None,
                   help=f"label schema YAML {what} (default: the project's, from annotator.yaml, "
                        "else schemas/framing-devices.yaml)")


def build_parser(tui_only: bool = False) -> argparse.ArgumentParser:
    """All commands; with `tui_only`, only `annotate` and `adjudicate` (their start-up is
    a benchmark row: the other commands' parsers import the format registry)."""
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

    p = sub.add_parser("adjudicate", help="the curator's screen: decide the gold standard",
                       description="Compare the annotators' versions of each unit side by "
                                   "side and decide the gold (stored in the gold journal, "
                                   "with undo/redo and an audit trail of whom each decision "
                                   "sided with). Units where the annotators agree are "
                                   "pre-filled first (--auto) and stay changeable. Press ? "
                                   "inside for the keys.")
    p.add_argument("--as", dest="curator", metavar="CURATOR", default=None,
                   help="curator name (default: your login name); on a team project only "
                        "the logins the team's curators map to may adjudicate, under "
                        "their curator name")
    p.add_argument("--anonymous", action="store_true",
                   help="show annotators as A, B, C ... instead of their names")
    p.add_argument("--auto", choices=["unanimous", "majority", "none"], default="unanimous",
                   help="pre-fill the gold where all annotators agree (unanimous, the "
                        "default), where more than half agree on every layer (majority: "
                        "for 3 or more annotators), or not at all (none)")
    _schema_arg(p, "to adjudicate against")
    _project_arg(p)
    if tui_only:
        parser.set_defaults(_commands=sub.choices)
        return parser

    from annotator.formats.registry import format_names, formats_help

    p = sub.add_parser("import", help="import documents (and, with --format, annotations)",
                       description="Import .txt, .md and .jsonl files (folders recursively). "
                                   "Unchanged documents are kept; where a paragraph changed under "
                                   "existing annotations, those are kept and flagged. A file with "
                                   "an error imports nothing, and neither does this command. "
                                   "With --format, import another tool's files: documents and "
                                   "their annotations (as --as NAME, or the format's own "
                                   "annotator field); see docs/formats.md.",
                       epilog=formats_help("import"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    p.add_argument("--format", dest="fmt", metavar="F", choices=[
        f for f in format_names() if f not in ("csv", "parquet")],
        help="the files' format (below); without it, a corpus of .txt/.md/.jsonl documents")
    p.add_argument("--as", dest="annotator", metavar="NAME", default=None,
                   help="whose annotations they are (default: the format's annotator field, "
                        "else your login name)")
    p.add_argument("--paragraphs", choices=["lines", "blank", "whole"], default=None,
                   help="how an article becomes units: each non-empty line (SemEval's "
                        "default), blank-line paragraphs (brat's, PTC's), or the whole text")
    p.add_argument("--offsets", choices=["utf16", "codepoints"], default=None,
                   help="how the files count offsets where the format is ambiguous "
                        "(doccano: utf16 by default)")
    p.add_argument("--allow-loss", action="store_true",
                   help="import what can be carried and list the rest as warnings (default: "
                        "refuse, listing what this format cannot carry)")
    _schema_arg(p, "to check labels against")
    _project_arg(p)

    p = sub.add_parser("export", help="export annotations (JSONL, or --format F)",
                       description="Write one JSON line per unit that any annotator marked "
                                   "done (see schemas/export-record.schema.json); adjudicated "
                                   "units carry the gold as \"gold\". With --gold, one line "
                                   "per adjudicated unit holding only the gold (annotator "
                                   "\"gold\"). --format writes the annotations in another "
                                   "tool's format (see docs/formats.md). What a format cannot "
                                   "carry is an error that lists it, unless --allow-loss.",
                       epilog=formats_help("export"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", "--output", metavar="F", default=None,
                   help="output file or folder; '-' for stdout (default: stdout when no --out "
                        "is given and stdout is not a terminal, else under exports/)")
    p.add_argument("--format", dest="fmt", metavar="F", choices=format_names(),
                   default="jsonl", help="output format (below; default jsonl)")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--annotator", metavar="NAME", default=None,
                     help="only this annotator's annotations")
    who.add_argument("--gold", action="store_true",
                     help="only the gold standard (the adjudicated journal)")
    p.add_argument("--offsets", choices=["utf16", "codepoints"], default=None,
                   help="offsets to write where the format is ambiguous (doccano: utf16)")
    p.add_argument("--allow-loss", action="store_true",
                   help="write what the format can carry and list the rest as warnings")
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
    p.add_argument("--schema", metavar="F", default=None,
                   help="label schema YAML (default: for an export, the one its records "
                        "name, found in the project's schemas/; for the store, the "
                        "project's, from annotator.yaml, else schemas/framing-devices.yaml)")
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                   help="bootstrap resamples for alpha's 95%% interval (0: none; default 1000)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="random seed of the bootstrap and of gamma's random continua "
                        "(default 0)")
    p.add_argument("--merge-names", action="store_true",
                   help="count annotator names that differ only by case or Unicode "
                        "normalisation as one annotator (said in a warning); without it "
                        "such names are an error")
    p.add_argument("--against", choices=["gold"], default=None,
                   help="also each annotator's agreement with the adjudicated gold (per "
                        "layer and label: accuracy, Cohen's kappa, span F1 exact and "
                        "overlap, relation F1, with bootstrap intervals), as "
                        "\"against_gold\" in --json")
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

    p = sub.add_parser("db", help="set up and move a PostgreSQL store",
                       description="The PostgreSQL store (see docs/store.md): create or "
                                   "migrate its tables, add annotators' roles, copy a project "
                                   "between stores.")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    q = dbsub.add_parser("init", help="create or migrate the tables (run by the lead)",
                         description="Create or migrate the tables, in one transaction; "
                                     "running it again changes nothing but the project's "
                                     "`blind` setting, which it copies from annotator.yaml. "
                                     "The role that runs it owns the corpus.")
    _project_arg(q)
    q = dbsub.add_parser("add-annotator", help="create an annotator's role and grants",
                         description="Create the database role NAME (if new) and grant it "
                                     "what an annotator may do: read the corpus, append "
                                     "their own events, read their own states (everyone's "
                                     "once the project is not blind). Run by the lead or a "
                                     "database admin with CREATEROLE. The role has no "
                                     "password: set one with psql's \\password, or use "
                                     "certificates.")
    q.add_argument("name", metavar="NAME", help="annotator name = role name")
    q.add_argument("--curator", action="store_true",
                   help="may read every annotator's journal, even while blind")
    _project_arg(q)
    q = dbsub.add_parser("copy", help="copy a project from one store to another",
                         description="Copy the corpus and every journal (events, states, "
                                     "undo history, positions) from one store to another, "
                                     "e.g. --from sqlite --to postgresql://host/db. The "
                                     "target must be empty (and initialised, for PostgreSQL). "
                                     "Nothing is written unless all of it is.")
    q.add_argument("--from", dest="source", metavar="STORE", required=True,
                   help="'sqlite' (this project's .annotator/) or a postgresql:// URL")
    q.add_argument("--to", dest="target", metavar="STORE", required=True,
                   help="'sqlite' or a postgresql:// URL")
    q.add_argument("--project", metavar="DIR", default=None,
                   help="project directory (default: the current directory)")
    p = sub.add_parser("assign", help="assign documents to annotators, with overlap",
                       description="Give each document not yet assigned to exactly K "
                                   "annotators, the least loaded first (loads end within one "
                                   "document of each other), and N calibration documents to "
                                   "everyone. Deterministic for a seed; existing assignments "
                                   "never move, so after an import a new run assigns only the "
                                   "new documents. Stored in the project's corpus database "
                                   "(the lead's); once there are assignments, each annotator's "
                                   "screen offers only their documents.")
    p.add_argument("--per-document", type=int, default=None, metavar="K",
                   help="annotators per document (needed unless only --show is given)")
    p.add_argument("--annotators", metavar="a,b,c", default=None,
                   help="annotator names, comma-separated (default: every annotator of the "
                        "team in annotator.yaml, or on PostgreSQL every annotator added with "
                        "`db add-annotator`; needed in a project without either)")
    p.add_argument("--calibration", type=int, default=0, metavar="N",
                   help="calibration documents in all, given to every annotator (default 0)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="random seed: the same seed, documents and names give the same "
                        "assignment (default 0)")
    p.add_argument("--show", action="store_true",
                   help="print the assignment: per annotator, per pair, and the matrix of "
                        "documents x annotators (its first rows for a big corpus)")
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
    t = tsub.add_parser("status", help="who is mapped, the journals, problems (exit 1)",
                        description="Show who is mapped to which login, which journals "
                        "exist with their owners and modes, and anything out of place (a "
                        "journal owned by the wrong user, a symlink, a foreign file) as "
                        "problems to fix. Exit 1 when there are problems.")
    _project_arg(t)

    p = sub.add_parser("serve", help="the annotation screen in a web browser, one login each",
                       description="Serve the annotation screen (and, for the team's curators, "
                                   "adjudicate) in a web browser, for annotators without SSH. "
                                   "Each annotator logs in with a secret of their own "
                                   "(--add-user); a session acts only as its logged-in name, "
                                   "and blindness holds as over SSH. Binds to loopback: reach "
                                   "it through an SSH tunnel or a TLS reverse proxy "
                                   "(docs/serve.md). Needs the serve extra: pip install "
                                   "'annotator[serve]'. Stop it with Ctrl+C or SIGTERM.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; a non-loopback one needs "
                        "--public)")
    p.add_argument("--port", type=int, default=8000, metavar="P",
                   help="port (default 8000; 0: any free port, printed at start)")
    p.add_argument("--public", action="store_true",
                   help="allow a non-loopback --host: only behind a TLS reverse proxy "
                        "(the server itself speaks plain HTTP; cookies are then Secure)")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--add-user", metavar="NAME",
                     help="add a user and print their new secret once (stored only as a "
                          "salted scrypt hash in .annotator/serve-users)")
    who.add_argument("--remove-user", metavar="NAME",
                     help="remove a user: their secret and open sessions stop working")
    who.add_argument("--list-users", action="store_true", help="list the users")
    p.add_argument("--project", metavar="DIR", default=None,
                   help="project directory (default: the current directory)")
    parser.set_defaults(_commands=sub.choices)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Arguments the command does not know are reported with that command's usage
    (argparse would print the top-level one)."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        sub = args._commands.get(args.command) if args.command else None
        (sub or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = argv if argv is not None else sys.argv[1:]
    # The screens' commands parse exactly as with the full parser (their own usage and
    # errors); only the top-level help lists the others, and it is not asked for here.
    parser = build_parser(tui_only=not argv or argv[0] in ("annotate", "adjudicate"))
    args = _parse(parser, argv)
    command = args.command or "annotate"
    if args.command is None:
        args = _parse(parser, ["annotate", *argv])
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

    project = Project(args.project, store=getattr(args, "store", None))
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


def _import_summary(stats) -> str:
    """The import in one notice for the screen (the full list went to stderr)."""
    text = (f"imported {stats.files} file(s): {stats.new} new, {stats.changed} changed "
            f"document(s), {stats.units:,} unit(s)")
    if stats.skipped:
        text += f"; skipped: {stats.skipped[0]}" + (
            f" (and {len(stats.skipped) - 1} more, see the terminal after quitting)"
            if len(stats.skipped) > 1 else "")
    if stats.stale:
        text += f"; {len(stats.stale)} annotation(s) now on changed text (⚠ stale)"
    return text


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
    if args.fmt is None:
        for flag, value in (("--as", args.annotator), ("--paragraphs", args.paragraphs),
                            ("--offsets", args.offsets), ("--schema", args.schema)):
            if value is not None:
                raise UsageError(f"{flag} applies to an import with --format only")
        project = _project(args)
        stats = _import(project, [Path(p) for p in args.paths])
        _print_import(stats)
        return 0
    from annotator.formats import import_files
    from annotator.project import default_annotator

    if args.annotator is not None and not args.annotator.strip():
        raise UsageError("--as needs a name")
    project = _project(args)
    schema = project.load_schema(args.schema)
    bar = ProgressBar("importing", unit=" records")
    try:
        result = import_files(project.store, schema, args.fmt, [Path(p) for p in args.paths],
                              project.root, annotator=args.annotator,
                              paragraphs=args.paragraphs, offsets=args.offsets,
                              allow_loss=args.allow_loss, progress=bar.update,
                              default_annotator=default_annotator)
    finally:
        bar.close()
    _print_import(result.stats)
    for name in sorted(result.annotations):
        same = result.unchanged.get(name, 0)
        print(f"annotations of {name}: {result.annotations[name]:,} unit(s) stored"
              + (f", {same:,} already as imported" if same else ""), file=sys.stderr)
    if not result.annotations:
        print("no annotations in these files", file=sys.stderr)
    for line in result.loss.warnings(include_lost=True):
        print(f"annotator: warning: {line}", file=sys.stderr)
    return 0


def cmd_annotate(args: argparse.Namespace) -> int:
    from annotator.project import default_annotator
    from annotator.store.sqlite import check_annotator_name

    # Check the name before anything is imported or created.
    if args.annotator is not None and not args.annotator.strip():
        raise UsageError("--as needs a name")
    if args.corpus and not Path(args.corpus).exists():
        # named first: a missing corpus is what went wrong (a new --project is made)
        raise InputError("no such file or directory (the CORPUS to annotate)", args.corpus)
    if args.annotator is not None:
        check_annotator_name(args.annotator)
    project = _project(args)
    if project.team is not None:
        from annotator.team.roles import current_login

        name = project.team.act_as(current_login(), args.annotator)
    elif project.store_url != "sqlite":
        name = args.annotator or project.store.role  # you annotate as the role you are
    else:
        name = args.annotator or default_annotator()
    check_annotator_name(name)
    from annotator.store.base import GOLD

    if name == GOLD:
        raise UsageError(f"{GOLD!r} is the gold standard's journal, not an annotator: "
                         "choose another name with --as (the gold is made with "
                         "`annotator adjudicate`)")
    schema = project.load_schema(args.schema)
    paths = [Path(args.corpus)] if args.corpus else project.corpus_paths()
    # shown on the screen once it opens (and printed here): (text, severity)
    notices: list[tuple[str, str]] = []
    skipped: list[str] = []
    if paths and project.is_lead():
        stats = _import(project, paths, only_changed=True)
        skipped = stats.skipped
        if stats.files or stats.skipped:
            _print_import(stats)
            notices.append((_import_summary(stats), "information"))
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
        if paths and skipped:
            raise InputError(f"no documents imported from {', '.join(map(str, paths))}: "
                             + "; ".join(skipped[:3]), project.root)
        raise InputError("the project has no documents: give a CORPUS (file or folder), or "
                         "list one under 'corpus:' in annotator.yaml", project.root)
    if project.store.assigned_documents(name) == []:  # None: no assignments at all
        raise InputError(f"no documents are assigned to {name} in this project: ask the "
                         "lead to assign some (`annotator assign`), or check --as",
                         project.root)
    journal = project.store.journal(name, schema)
    journal.claim()  # one session per annotator: a second one is refused with a message
    from annotator.schema_drift import record_schema, schema_change

    changed = schema_change(journal, schema)
    if changed:
        print(f"annotator: warning: {changed}", file=sys.stderr)
        notices.append((changed, "warning"))
    record_schema(journal, schema)
    try:
        _no_collection_until_painted()
        from annotator.tui.app import run_app

        return run_app(project.store, journal, schema, notices=notices,
                       keymap=project.keymap(schema))
    finally:
        gc.enable()
        project.close()


def _no_collection_until_painted() -> None:
    """No cyclic garbage collection from here to the screen's first frame (the app
    turns it on again, see AnnotatorApp.on_mount): Textual's import and the first
    layout allocate a few hundred thousand objects, hardly any of them garbage, and
    the collector's passes over them were ~15 ms of the first paint. Not earlier than
    this: an import of a large corpus runs with the collector on."""
    gc.disable()


def cmd_adjudicate(args: argparse.Namespace) -> int:
    from annotator.adjudication import GOLD
    from annotator.adjudication.roles import curator_name
    from annotator.project import default_annotator
    from annotator.store.sqlite import check_annotator_name
    from annotator.team.roles import current_login

    if args.curator is not None and not args.curator.strip():
        raise UsageError("--as needs a name")
    if args.curator is not None:
        check_annotator_name(args.curator)
    if args.curator == GOLD:
        raise UsageError(f"{GOLD!r} is the gold standard's journal: choose a curator name")
    # Roles before any store is opened: a refused login leaves nothing behind.
    project = _project(args)
    name = curator_name(project.team, current_login(), args.curator, default_annotator(),
                        project.root / "annotator.yaml")
    check_annotator_name(name)
    _existing_store(project)
    schema = project.load_schema(args.schema)
    from annotator.adjudication.session import open_session

    bars: list[ProgressBar] = []  # drawn only once a merge reports progress

    def progress(done: int, total: int | None) -> None:
        if not bars:
            bars.append(ProgressBar(f"pre-filling the gold ({args.auto})", unit=" units"))
        bars[0].update(done, total)

    try:
        session, merged, left = open_session(project.store, schema, name, args.auto,
                                             anonymous=args.anonymous, progress=progress)
    finally:
        for bar in bars:
            bar.close()
    if merged:
        print(f"pre-filled {merged:,} unit(s) where the annotators agree ({args.auto}); "
              f"{left:,} left to decide", file=sys.stderr)
    try:
        _no_collection_until_painted()
        from annotator.tui.adjudicate import run_adjudicate

        return run_adjudicate(session)
    finally:
        gc.enable()
        project.close()


def cmd_export(args: argparse.Namespace) -> int:
    from annotator.export import Killed, signals_raise
    from annotator.formats import export, get_format

    project = _project(args)
    _existing_store(project)
    schema = project.load_schema(args.schema)
    spec = get_format(args.fmt)
    to_stdout = args.out == "-" or (args.out is None and not sys.stdout.isatty()
                                    and spec.output == "file" and not spec.binary)
    if to_stdout:
        out = None
    elif args.out:
        out = Path(args.out)
    else:
        import importlib

        ext = getattr(importlib.import_module(spec.write.__module__), "EXTENSION", "") \
            if spec.write else ""
        name = f"{date.today().isoformat()}-{schema.id}{'-gold' if args.gold else ''}"
        out = project.exports_dir() / (f"{name}.jsonl" if args.fmt == "jsonl"
                                       else f"{name}-{args.fmt}{ext}")
    bar = ProgressBar("exporting", unit=" documents")
    try:
        with signals_raise():  # a killed export still removes its temporary files
            result = export(project.store, schema, args.fmt, out, annotator=args.annotator,
                            gold=args.gold, offsets=args.offsets,
                            allow_loss=args.allow_loss, progress=bar.update)
    except Killed as exc:
        print(f"annotator: export stopped ({exc}): nothing was written to {out or 'stdout'}",
              file=sys.stderr)
        return 128 + exc.signum
    finally:
        bar.close()
    for line in result.loss.warnings(include_lost=True):
        print(f"annotator: warning: {line}", file=sys.stderr)
    if out is not None and not (out.exists() and not out.is_file() and not out.is_dir()):
        extra = "".join(f" (and {p})" for p in result.extra)
        print(f"wrote {result.records:,} record(s) to {out}{extra}", file=sys.stderr)
    return 0


def cmd_agreement(args: argparse.Namespace) -> int:
    if not 0 <= args.bootstrap <= 100_000:
        raise UsageError("--bootstrap must be between 0 and 100000")
    if args.seed < 0:
        raise UsageError("--seed must be 0 or more")
    from annotator import read_split

    if args.export is not None:
        # the export's second half starts being read while the agreement package and
        # numpy import (annotator.read_split)
        read_split.start_early(Path(args.export), args.schema, args.project, coded=True)
    from annotator import agreement
    from annotator.agreement.skip import (
        format_skip,
    )

    bar = ProgressBar("reading", unit=" bytes")
    try:
        report = agreement.run_agreement(args.export, args.schema, args.project,
                                         bootstrap=args.bootstrap, seed=args.seed,
                                         merge_names=args.merge_names, progress=bar.update,
                                         store=args.store, against=args.against)
    finally:
        bar.close()
        read_split.stop_early()
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False))
    else:
        print(agreement.format_table(report))
        print(format_skip(report["skip_agreement"]))
        if args.against == "gold":
            from annotator.agreement.against_gold import format_against_gold

            print()
            print(format_against_gold(report["against_gold"]))
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


def cmd_assign(args: argparse.Namespace) -> int:
    from annotator.project import default_annotator
    from annotator.team.assign import (
        assign_project,
        assignment_overview,
        describe_plan,
        format_overview,
    )

    if args.per_document is None and not args.show:
        raise UsageError("assign needs --per-document K (or --show to print the assignment)")
    project = _project(args)
    _existing_store(project)
    if args.per_document is not None:
        names = args.annotators.split(",") if args.annotators is not None else None
        plan = assign_project(project, args.per_document, names, default_annotator(),
                              calibration=args.calibration, seed=args.seed)
        print(describe_plan(plan, project.store.document_count()), file=sys.stderr)
    if args.show:
        print(format_overview(assignment_overview(project.store)))
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


def cmd_serve(args: argparse.Namespace) -> int:
    from annotator.serve import admin
    from annotator.serve.access import check_bind

    if args.add_user or args.remove_user or args.list_users:
        project = _project(args)
        if args.add_user:
            secret, warning = admin.add_user(project, args.add_user)
            if warning:
                print(f"annotator: warning: {warning}", file=sys.stderr)
            print(f"added {args.add_user}; their secret (shown only now, give it to them "
                  f"privately):\n{secret}")
        elif args.remove_user:
            admin.remove_user(project, args.remove_user)
            print(f"removed {args.remove_user}", file=sys.stderr)
        else:
            users = admin.list_users(project)
            for name, what in users:
                print(f"{name}\t{what}")
            if not users:  # said on stderr: stdout stays a clean table for scripts
                print("no users yet: add one with `annotator serve --add-user NAME`",
                      file=sys.stderr)
        return 0
    refusal = check_bind(args.host, args.public)
    if refusal:
        raise UsageError(refusal)
    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be between 0 and 65535")
    project = _project(args)
    for line in admin.check_serving(project):
        print(f"annotator: warning: {line}", file=sys.stderr)
    from annotator.serve import load_server

    server = load_server()
    if args.public:
        print("annotator: note: --public: this server speaks plain HTTP; a TLS reverse "
              "proxy must be in front of it (docs/serve.md)", file=sys.stderr)
    server.run(project, args.host, args.port, public=args.public,
               ready=lambda url: print(f"serving {project.root} on {url} (stop: Ctrl+C)",
                                       file=sys.stderr, flush=True))
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from annotator.store import postgres

    if args.db_command == "copy":
        return _db_copy(args)
    project = _project(args)
    url = project.store_url
    if url == "sqlite":
        raise UsageError("`annotator db` needs a PostgreSQL store: give --store "
                         "postgresql://..., set ANNOTATOR_STORE, or store: in annotator.yaml")
    if args.db_command == "init":
        before, after = postgres.init_database(url, blind=project.config.blind)
        state = (f"created the tables (version {after})" if before == 0 else
                 f"migrated the tables from version {before} to {after}" if before < after
                 else f"the tables are up to date (version {after})")
        print(f"{postgres.display_url(url)}: {state}; blind: "
              f"{'yes' if project.config.blind else 'no'}", file=sys.stderr)
    else:
        created = postgres.add_annotator(url, args.name, curator=args.curator)
        print(f"{'created role' if created else 'role exists:'} {args.name}; granted "
              f"{'curator' if args.curator else 'annotator'} access", file=sys.stderr)
    return 0


def _db_copy(args: argparse.Namespace) -> int:
    from annotator.project import Project
    from annotator.store.copy import copy_store

    source = Project(args.project, store=args.source)
    target = Project(args.project, store=args.target)
    if source.store_url == target.store_url:
        raise UsageError("--from and --to name the same store")
    if source.store_url == "sqlite" and not source.has_store():
        raise InputError("there is no SQLite store here to copy from", source.root)
    bar = ProgressBar("copying", unit=" rows")
    try:
        counts = copy_store(source.store, target.store, progress=bar.update)
    finally:
        bar.close()
        source.close()
        target.close()
    print(f"copied {counts['documents']:,} document(s), {counts['units']:,} unit(s), "
          f"{counts['events']:,} event(s) of {counts['annotators']} annotator(s)",
          file=sys.stderr)
    return 0
