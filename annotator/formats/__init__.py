"""Interchange formats: one module per format, each a reader and/or a writer over the
core's documents and annotations, sharing the offset helpers (`offsets`), the report of
what a format cannot carry (`loss`) and the registry the CLI picks a format from."""

from annotator.formats.exporting import choose_sources, export
from annotator.formats.importing import import_files
from annotator.formats.registry import FORMATS, format_names, formats_help, get_format

__all__ = ["FORMATS", "choose_sources", "export", "format_names", "formats_help",
           "get_format", "import_files"]
