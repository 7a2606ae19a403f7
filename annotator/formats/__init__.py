"""Interchange formats: one module per format, each a reader and/or a writer over the
core's documents and annotations, sharing the offset helpers (`offsets`), the report of
what a format cannot carry (`loss`) and the registry the CLI picks a format from.

The names below load on first use: the CLI's parser reads only the registry, and a
command such as `agreement` should not pay for importing the export and import
machinery (about 0.1 s)."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"choose_sources": "exporting", "export": "exporting", "import_files": "importing",
         "FORMATS": "registry", "format_names": "registry", "formats_help": "registry",
         "get_format": "registry"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value
