"""The curator's span editor: the annotation screen itself, on the gold.

`adjudicate` shows the annotators' versions and takes whole layers or single spans
from them; drawing a new span, changing one's label, attributes or quote -> source
links, or deleting it, is what the annotation screen already does (span mode with
`v` and the cursor keys, label keys, `tab` to select, `t`, `r`, `x`, the proposed
quotes and speakers). So `e` in `adjudicate` opens `GoldSpanScreen`: an
`AnnotateScreen` whose journal is `GoldJournal`, an adapter that sends every action
through the adjudication session (`Session.apply`: the decision's `decided_by`, and a
first decision starting from what the annotators agree on) into the gold journal. Every
action is durable before the screen shows it, as in `annotate`; undo / redo are the
gold's. `escape` (with nothing to cancel), `enter` or `q` go back to the versions.
"""

from __future__ import annotations

from annotator.adjudication.session import Session
from annotator.store.base import Change
from annotator.team.assign import DocumentScope
from annotator.tui.screen import AnnotateScreen


class GoldJournal:
    """What AnnotateScreen asks of a journal, answered by the adjudication session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.annotator = session.curator
        self._position: tuple[str, int] | None = None

    def apply(self, doc_id: str, unit: int, action: dict, seconds: float = 0.0) -> Change:
        return self.session.apply(doc_id, unit, action)

    def states(self, doc_id: str) -> dict[int, dict]:
        return self.session.gold.states(doc_id)

    def undo(self) -> Change | None:
        return self.session.undo()

    def redo(self) -> Change | None:
        return self.session.redo()

    def done_count(self, titles: bool = True) -> int:
        # the session's count once its whole-corpus read is in (never start that read here)
        p = self.session.progress_if_ready()
        return p.decided if p is not None else self.session.gold.done_count(titles=titles)

    def info(self, doc_id: str, unit: int) -> dict | None:
        # when the gold was decided, on which text (the annotation screen marks stale
        # units from it)
        return self.session.gold.info(doc_id, unit)

    def position(self) -> tuple[str, int] | None:
        return self._position

    def set_position(self, doc_id: str, unit: int) -> None:
        self._position = (doc_id, unit)  # the curator's place is the adjudicate screen's

    def first_not_done(self, assigned: bool = False, titles: bool = True
                       ) -> tuple[str, int] | None:
        return self._position


class GoldSpanScreen(AnnotateScreen):
    """The annotation screen on one unit's gold; dismissed with where it ended."""

    def __init__(self, session: Session, doc_id: str, unit: int,
                 select: str | None = None) -> None:
        """Opens on the unit in span mode, or with the gold span `select` selected."""
        self._select = select
        journal = GoldJournal(session)
        journal.set_position(doc_id, unit)
        super().__init__(session.store, journal, session.schema)
        # every document (assignments are the annotators', not the curator's)
        self.scope = DocumentScope(None, self.store.document_count())
        self.doc_count, self.unit_total = self.scope.count, self.store.unit_count()
        self.session = session

    def on_mount(self) -> None:
        # Textual calls every class's on_mount along the MRO, this one first: the
        # annotation screen's own (which focuses the unit) runs after it
        self.call_after_refresh(self._opened)

    def _opened(self) -> None:
        if self._select is not None and self._span(self._select) is not None:
            self.selected = self._select
            self.refresh_state()
        else:
            self.action_span_mode()

    @property
    def state(self) -> dict:
        # a unit without gold shows (and its first edit starts from) what the annotators
        # agree on: the same gold the adjudicate screen shows
        stored = self.states.get(self.unit)
        if stored:
            return stored
        return self.session.shown_gold(self.doc.id, self.unit)

    def _back(self) -> None:
        self.dismiss((self.doc.id, self.unit))

    def action_cancel(self) -> None:
        if self.link_from is None and self.span_anchor is None and self.selected is None:
            self._back()
            return
        super().action_cancel()

    def action_mark_done(self) -> None:
        if self.link_from is not None or self.span_anchor is not None:
            super().action_mark_done()  # confirm the link / ask for a label, as in annotate
            return
        self._back()

    def action_quit(self) -> None:
        self._back()

    def action_help(self) -> None:
        super().action_help()
        self.notify("editing the gold's spans: escape, enter or q go back to the versions")

    def _mode(self) -> tuple[str, str]:
        mode, detail = super()._mode()
        if self.link_from is None and self.span_anchor is None and self.selected is None:
            return "GOLD", ((detail + "  ") if detail else "") + (
                "v span  tab select  escape/enter: back to the versions")
        return mode, detail
