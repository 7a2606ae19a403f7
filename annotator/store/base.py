"""The store interface: what the CLI, the export and the TUI may ask of a backend.

Narrow on purpose: a PostgreSQL backend for teams on several machines implements
these two classes and nothing above them changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import field
from typing import TYPE_CHECKING, NamedTuple, Protocol

from annotator.records import record

if TYPE_CHECKING:
    from annotator.corpus import Document


# The read-only records are NamedTuples: a frozen dataclass is generated (exec) at
# import, and this module is imported before the annotation screen's first frame.
class DocInfo(NamedTuple):
    """A document as the store lists it (its units are read on demand)."""

    key: int  # stable integer key; also the 1-based position in import order
    id: str
    title: str | None
    meta: dict
    n_units: int  # title (if any) + body paragraphs
    has_title: bool
    source: str = ""

    @property
    def first_unit(self) -> int:
        return 0 if self.has_title else 1

    @property
    def last_unit(self) -> int:
        return self.n_units - 1 if self.has_title else self.n_units


class Unit(NamedTuple):
    """One unit (title or paragraph) of a document, with its text's hash."""

    doc_id: str
    index: int
    text: str
    sha: str


@record
class ImportStats:
    """What an import did."""

    files: int = 0
    new: int = 0
    unchanged: int = 0
    changed: int = 0
    units: int = 0
    skipped: list[str] = field(default_factory=list)  # empty files, with a reason
    # (doc_id, unit, annotator): annotations kept on a paragraph whose text changed
    stale: list[tuple[str, int, str]] = field(default_factory=list)


class Change(NamedTuple):
    """What an action, undo or redo did: the unit and its state afterwards."""

    doc_id: str
    unit: int
    state: dict
    seq: int


# The gold standard's journal (annotator/adjudication/): a journal like any other, by
# this reserved name, never listed among the annotators.
GOLD = "gold"

Progress = Callable[[int, int | None], None]  # (done, total or None)


class Journal(Protocol):
    annotator: str

    def apply(self, doc_id: str, unit: int, action: dict, seconds: float = 0.0) -> Change: ...
    def state(self, doc_id: str, unit: int) -> dict | None: ...
    def states(self, doc_id: str) -> dict[int, dict]: ...
    def iter_states(self) -> Iterator[tuple[str, int, dict, dict]]: ...
    def undo(self) -> Change | None: ...
    def redo(self) -> Change | None: ...
    def done_count(self, titles: bool = True) -> int: ...
    def position(self) -> tuple[str, int] | None: ...
    def set_position(self, doc_id: str, unit: int) -> None: ...
    def close(self) -> None: ...


class Store(Protocol):
    def import_documents(self, docs: Iterable[Document], progress: Progress | None = None
                         ) -> ImportStats: ...
    def document_count(self) -> int: ...
    def unit_count(self) -> int: ...
    def document(self, doc_id: str) -> DocInfo | None: ...
    def document_at(self, position: int) -> DocInfo | None: ...
    def iter_documents(self) -> Iterator[DocInfo]: ...
    def unit(self, doc_id: str, index: int) -> Unit | None: ...
    def units(self, doc_id: str) -> list[Unit]: ...
    def search(self, text: str, after: tuple[int, int] | None = None,
               backwards: bool = False) -> tuple[str, int] | None: ...
    def annotators(self) -> list[str]: ...
    def journal(self, annotator: str) -> Journal: ...
    # assignments (annotator/team/assign.py): rows (document key, annotator, calibration)
    def assignments(self) -> list[tuple[int, str, bool]]: ...
    def assigned_documents(self, annotator: str) -> list[int] | None: ...
    def assigned_unit_count(self, annotator: str) -> int: ...
    def add_assignments(self, plan: Callable[[list[int], list[tuple[int, str, bool]]],
                                             list[tuple[int, str, bool]]]) -> int: ...
    def close(self) -> None: ...
