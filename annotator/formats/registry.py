"""The formats by name, for the CLI: each is one module with `read` and/or `write`,
imported only when used (so `--help` does not load pyarrow)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from annotator.errors import UsageError


@dataclass(frozen=True)
class FormatInfo:
    name: str
    module: str
    summary: str  # one line for --help


FORMATS: tuple[FormatInfo, ...] = (
    FormatInfo("jsonl", "jsonl", "this tool's export records (the default); import: round trip"),
    FormatInfo("semeval2023-t3", "semeval2023_t3",
               "SemEval-2023 Task 3: article<ID>.txt (one paragraph a line), subtask-3 "
               "paragraph labels, subtask-2 frames, technique spans"),
    FormatInfo("ptc", "ptc", "SemEval-2020 Task 11 / PTC: article<ID>.txt and SI / TC span "
                             ".labels files (whole-article offsets)"),
    FormatInfo("brat", "brat", "brat standoff: .txt + .ann (T, R, A, #) and annotation.conf "
                               "from the schema"),
    FormatInfo("label-studio", "label_studio",
               "Label Studio JSON tasks (labels, choices, relation, paragraphlabels) and an "
               "XML labelling config from the schema"),
    FormatInfo("doccano", "doccano", "doccano JSONL (label / entities + relations), one file "
                                     "per user; UTF-16 offsets by default"),
    FormatInfo("prodigy", "prodigy", "Prodigy JSONL (spans, relations, options + accept, "
                                     "answer accept / reject / ignore)"),
    FormatInfo("csv", "csv_table", "export only: one row per annotator x unit x label / span "
                                   "/ relation (a `kind` column), for pandas"),
    FormatInfo("parquet", "parquet", "export only: the csv table as Parquet (needs pyarrow: "
                                     "pip install 'annotator[parquet]')"),
)


@dataclass(frozen=True)
class FormatSpec:
    name: str
    read: Any  # (paths, ImportContext) -> Iterator[Document | UnitState], or None
    write: Any  # (docs, dest Path, ExportContext) -> int, or None
    default_paragraphs: str
    paragraph_modes: tuple[str, ...]
    default_offsets: str
    offset_modes: tuple[str, ...]
    output: str  # "file", "dir", or "auto" (the module's `output_kind` decides)
    single_set: bool  # holds one annotator's annotations (SemEval, PTC)
    binary: bool = False


def format_names() -> list[str]:
    return [f.name for f in FORMATS]


def formats_help(mode: str) -> str:
    """One line per format for `import --help` / `export --help`."""
    lines = ["formats (--format F):"]
    for f in FORMATS:
        if mode == "import" and f.name in ("csv", "parquet"):
            continue
        lines.append(f"  {f.name:<15} {f.summary}")
    return "\n".join(lines)


def get_format(name: str) -> FormatSpec:
    for f in FORMATS:
        if f.name == name:
            module = importlib.import_module(f"annotator.formats.{f.module}")
            return FormatSpec(
                name=f.name, read=getattr(module, "read", None),
                write=getattr(module, "write", None),
                default_paragraphs=getattr(module, "DEFAULT_PARAGRAPHS", ""),
                paragraph_modes=getattr(module, "PARAGRAPH_MODES", ()),
                default_offsets=getattr(module, "DEFAULT_OFFSETS", "codepoints"),
                offset_modes=getattr(module, "OFFSET_MODES", ()),
                output=getattr(module, "OUTPUT", "file"),
                single_set=getattr(module, "SINGLE_SET", False),
                binary=getattr(module, "BINARY", False))
    raise UsageError(f"unknown format {name!r}; formats: {', '.join(format_names())}")
