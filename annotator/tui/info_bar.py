"""The bars above and below the paragraph: where you are, and what mode you are in.

Titles and notes are untrusted text: they are appended to `rich.text.Text`, never
parsed as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from annotator.store.base import DocInfo


class TextLines(Static, can_focus=False):
    """A Static showing lines of `Text` that never wrap: its size changes only with the
    number of lines, so an update lays the screen out again only then (a keypress
    that restyles or rewords the lines repaints them, nothing else)."""

    _lines: int | None = None

    def show_text(self, text: Text) -> None:
        lines = text.plain.count("\n")
        self.update(text, layout=lines != self._lines)
        self._lines = lines


class PositionBar(TextLines):
    """Title; document i/N, unit j/M, units annotated; annotated / flag / note marks."""

    COMPONENT_CLASSES = {"position-bar--title", "position-bar--mark"}

    def show(self, doc: DocInfo, doc_count: int, unit: int, state: dict | None,
             done_total: int, unit_total: int, position: int | None = None) -> None:
        """`position`: the document's place among the annotator's (assigned) documents,
        when that is not its key."""
        state = state or {}
        title_style = self.get_component_rich_style("position-bar--title", partial=True)
        mark_style = self.get_component_rich_style("position-bar--mark", partial=True)
        out = Text(no_wrap=True, overflow="ellipsis")
        out.append(" ".join((doc.title or doc.id).split()) or doc.id, title_style)
        out.append("\n")
        out.append(f"doc {position or doc.key:,}/{doc_count:,} {doc.id}  ")
        where = "title" if unit == 0 and doc.has_title else f"¶{unit}/{doc.n_units - int(doc.has_title)}"
        out.append(f"{where}  ")
        out.append(f"annotated {done_total:,}/{unit_total:,}  ")
        # Marks, not colour: "✓ done" / "○ not yet", "⚑" flag, "✎" note.
        if state.get("status") == "done":
            out.append("✓ done", mark_style)
        elif state.get("status") == "skipped":
            out.append("⊘ not content", mark_style)
        else:
            out.append("○ not yet")
        if state.get("flag"):
            out.append("  ⚑ uncertain", mark_style)
        if state.get("note"):
            out.append("  ✎ note", mark_style)
        self.show_text(out)


class StatusLine(TextLines):
    """The mode (span / link), the selected span, and the unit's note; above all, a
    failed save (disk full ...) until saving works again."""

    COMPONENT_CLASSES = {"status-line--mode", "status-line--alert"}
    _alert: str | None = None
    _last: tuple[str, str, str | None] = ("", "", None)

    def alert(self, message: str | None) -> None:
        self._alert = message
        self.set_class(message is not None, "-alert")
        self.show(*self._last)

    def show(self, mode: str, detail: str, note: str | None) -> None:
        self._last = (mode, detail, note)
        mode_style = self.get_component_rich_style("status-line--mode", partial=True)
        out = Text(no_wrap=True, overflow="ellipsis")
        if self._alert is not None:
            alert_style = self.get_component_rich_style("status-line--alert", partial=True)
            out.append(" ⚠ NOT SAVED ", alert_style)
            out.append(" " + " ".join(self._alert.split()) + "\n")
        if mode:
            out.append(f" {mode} ", mode_style)
            out.append(" ")
        out.append(detail)
        if note:
            out.append("\n✎ ")
            out.append(" ".join(note.split()))
        self.show_text(out)
