"""The annotation screen: one unit in focus, its labels, spans and quote links.

Every action goes through `journal.apply` synchronously in the key handler (it has
committed when it returns), and only then are the widgets updated from the state
it returned: what the screen shows is always already on disk.

Only the focused document is loaded, and its units one at a time on demand, so a
store of a million paragraphs opens as fast as one of ten.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import heapq
import itertools
import re
import time
from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen

from annotator.actions import ActionError
from annotator.errors import InputError, StoreError
from annotator.keys import action_keys
from annotator.quotes import continued_quote, propose_quotes
from annotator.quotes import inner as quote_inner
from annotator.schema import Attribute, Label, LabelSchema, Layer, Relation
from annotator.sources import propose_source
from annotator.store.base import DocInfo
from annotator.team.assign import DocumentScope
from annotator.textclean import safe_message
from annotator.tui.bindings import build_bindings
from annotator.tui.compositor import SpanCompositor
from annotator.tui.fast_keys import FastKeys
from annotator.tui.info_bar import LateFooter, PositionBar, StatusLine
from annotator.tui.labels_panel import LabelsPanel, SpanLook, snippet, span_looks
from annotator.tui.styles import StyledOnce
from annotator.tui.unit_view import Decor, ProposalIndex, UnitView, ViewSpan

# Words for w/b/W/B: runs of word characters, or runs of punctuation (as in vi).
WORD = re.compile(r"\w+|[^\w\s]+")
# ASCII digits only (str.isdigit takes "²"), and few enough for SQLite's integers.
_NUMBER = re.compile(r"[0-9]{1,12}")
UNIT_CACHE = 64  # units of the focused document kept in memory
GOTO_CANDIDATES = 21  # documents go-to reads for a prefix (it lists 8 of them)
PANEL_PROPOSALS = 6  # proposals listed in the labels panel (a paragraph may have 1000s)


class AnnotateScreen(FastKeys, StyledOnce, Screen):
    BINDINGS = build_bindings()

    def __init__(self, store: Any, journal: Any, schema: LabelSchema) -> None:
        super().__init__(id="annotate")
        if SpanCompositor.usable():  # a keypress renders only the lines it sends
            self._compositor = SpanCompositor()
        self.store, self.journal, self.schema = store, journal, schema
        # Label hotkeys come from the schema (as Textual key names) and become bindings
        # (validate keeps them clear of the screen's own keys).
        self.hotkeys: dict[str, tuple[Layer, Label]] = schema.hotkeys()
        self.attribute_keys: dict[str, str] = {
            att.key: att.id for lay in schema.span_layers for lab in lay.labels
            for att in lab.attributes if att.key}
        self.looks: dict[tuple[str, str], SpanLook] = span_looks(schema)
        self.quote_label = self._quote_label()
        self.doc: DocInfo | None = None
        self.unit = 0
        self.states: dict[int, dict] = {}
        self._units: dict[int, str] = {}
        # Assignments: only this annotator's documents, counted as theirs (team/assign.py).
        self.scope = DocumentScope.for_annotator(store, journal.annotator)
        self.doc_count = self.scope.count
        self.unit_total = (store.assigned_unit_count(journal.annotator)
                           if self.scope.restricted else store.unit_count())
        if not schema.titles:  # titles are context, not units (schema or project)
            self.unit_total -= store.title_count(
                journal.annotator if self.scope.restricted else None)
        self.done_total = journal.done_count(titles=schema.titles)
        # Span editing state of the focused unit.
        self.cursor = 0
        self.span_anchor: int | None = None  # span mode while not None
        self.selected: str | None = None  # span id, or "?n" for proposal n
        self.link_from: str | None = None  # link mode while not None
        self.link_target: str | None = None
        self.proposals: list[tuple[int, int]] = []
        # The speaker proposed for the selected quote span: (quote id, start, end).
        self.source_proposal: tuple[str, int, int] | None = None
        self._open: list[tuple[str, int, int]] | None = None
        self._index: ProposalIndex | None = None
        self.last_search: str | None = None
        self._focus_time = time.monotonic()
        self._saved_at: tuple[str, int] | None = None  # the position the journal holds
        # Why the last write failed (disk full ...), shown until a write succeeds.
        self.save_error: str | None = None
        self._toasts: dict[tuple[str, str, Any], float] = {}  # shown until (monotonic)
        self._help: list | None = None  # help_lines(schema), once asked for
        self._match_key: tuple[int, str] | None = None
        self._match_cache: tuple[tuple[int, int], ...] = ()
        # unit -> the text it had when annotated, if a re-import changed it since
        # ("" when that text was not kept); None: not stale. Asked once per unit.
        self._stale: dict[int, str | None] = {}
        self._widgets: dict[type, Any] = {}
        self._bind_schema_keys()

    # -- messages -------------------------------------------------------------------------
    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """A toast, never markup and with controls made visible (messages quote ids and
        names from stores and schemas); one that is still on screen is not stacked
        again (enter held on the last unit)."""
        message, title = safe_message(message), safe_message(title)
        now = time.monotonic()
        key = (message, title, severity)
        if self._toasts.get(key, 0.0) > now:
            return
        if len(self._toasts) > 64:
            self._toasts = {k: t for k, t in self._toasts.items() if t > now}
        seconds = timeout if timeout is not None else self.app.NOTIFICATION_TIMEOUT
        self._toasts[key] = now + seconds
        self.app.notify(message, title=title, severity=severity, timeout=seconds,
                        markup=False)

    # -- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield PositionBar(id="position")
        with Horizontal(id="main"):
            yield UnitView(id="unit")
            with VerticalScroll(id="labels-scroll", can_focus=False):
                yield LabelsPanel(id="labels")
        yield StatusLine(id="status")
        yield LateFooter()

    def on_resize(self, event: events.Resize) -> None:
        # The labels panel takes the width its names need, as the terminal allows.
        self.query_one(LabelsPanel).fit(self.schema, event.size)

    # False until the first frame is drawn: the paragraph comes first, the labels panel
    # and the position bar are filled right after it (their text and styles cost the
    # first paint of a reopened project more than the paragraph did).
    _painted = False

    def on_mount(self) -> None:
        doc_id, unit = self._start()
        self.go(doc_id, unit)
        self.call_after_refresh(self._after_first_frame)
        # (the schema, key maps and widgets: frozen out of the collector's reach after
        # the first frame, AnnotatorApp._collect_from_now)

    def _after_first_frame(self) -> None:
        self._painted = True
        self._add_fast_twins()
        self.refresh_state()

    def _start(self) -> tuple[str, int]:
        """Where this annotator stopped, else the first unit they have not annotated."""
        pos = self._saved_at = self.journal.position()
        if pos is not None:
            doc = self.store.document(pos[0])
            if doc is not None and self._first(doc) <= pos[1] <= doc.last_unit and (
                    doc.key in self.scope):
                return pos
        first = self.journal.first_not_done(assigned=self.scope.restricted,
                                            titles=self.schema.titles)
        if first is not None:
            return first
        doc = self.store.document_at(self.scope.first() - 1)
        return doc.id, self._first(doc)

    def _first(self, doc: DocInfo) -> int:
        """The document's first unit to annotate: its title, unless titles are not
        units (`titles: false`; a document that is only a title keeps it)."""
        if self.schema.titles or not doc.has_title or doc.last_unit < 1:
            return doc.first_unit
        return 1

    def _quote_label(self) -> tuple[Layer, Label] | None:
        """The span label that proposed quotes get: `quote` if the schema has it."""
        for layer in self.schema.span_layers:
            label = layer.label("quote")
            if label is not None:
                return layer, label
        return None

    # -- data of the focused document -----------------------------------------------------
    def text(self, unit: int) -> str:
        text = self._units.get(unit)
        if text is None:
            u = self.store.unit(self.doc.id, unit)
            text = u.text if u else ""
            if len(self._units) >= UNIT_CACHE:
                self._units.clear()
            self._units[unit] = text
        return text

    @property
    def state(self) -> dict:
        return self.states.get(self.unit) or {}

    def _done(self, unit: int) -> bool:
        # decided: annotated, or marked not content (as the journal's done_count counts)
        return (self.states.get(unit) or {}).get("status") in ("done", "skipped")

    # -- moving ---------------------------------------------------------------------------
    def go(self, doc_id: str, unit: int) -> None:
        """Focus a unit (loading its document if it is another one) and redraw."""
        if self.doc is None or doc_id != self.doc.id:
            doc = self.store.document(doc_id)
            if doc is None:
                self.notify(f"no document {doc_id}", severity="error", markup=False)
                return
            self.doc = doc
            self._units.clear()
            self.states = self.journal.states(doc_id)
            self._stale.clear()
        self.unit = max(self._first(self.doc), min(unit, self.doc.last_unit))
        self.cursor = 0
        self.span_anchor = self.selected = self.link_from = self.link_target = None
        self.proposals = self._proposals()
        self._open = None
        self._focus_time = time.monotonic()
        if (self.doc.id, self.unit) != self._saved_at:  # not at start-up: it is there
            with contextlib.suppress(StoreError):  # the move stands; the status line warns
                self._store_call(self.journal.set_position, self.doc.id, self.unit)
                self._saved_at = (self.doc.id, self.unit)
        d, u = self.doc, self.unit
        # (a title that is not a unit is still shown above the first paragraph)
        prev = (self.text(u - 1), self._done(u - 1)) if u > d.first_unit else None
        nxt = (self.text(u + 1), self._done(u + 1)) if u < d.last_unit else None
        self.query_one(UnitView).show((d.id, u), prev, (self.text(u), self._done(u)), nxt)
        self.refresh_state()

    def _proposals(self) -> list[tuple[int, int]]:
        if self.quote_label is None:
            return []
        text = self.text(self.unit)
        try:
            found = propose_quotes(text)
            more = continued_quote(text)  # it closes in a later paragraph
            if more is not None:
                found = sorted([*found, more])
        except Exception as exc:  # a detector bug must not cost the annotator the screen
            self.notify(f"quote detector failed: {exc}", severity="warning", markup=False)
            return []
        # The quote label marks the quoted words only, without the marks.
        return [quote_inner(text, (s, e)) for s, e in found if 0 <= s < e <= len(text)]

    def _open_proposals(self) -> list[tuple[str, int, int]]:
        """(id, start, end) of proposals not rejected and not covered by a span yet, in
        text order. Cached: a paragraph may hold thousands of quotes, and this is asked
        on every keypress."""
        if self._open is None:
            self._open = self._compute_open()
        return self._open

    def _compute_open(self) -> list[tuple[str, int, int]]:
        layer, label = self.quote_label or (None, None)
        spans = sorted((sp["start"], sp["end"]) for sp in self.state.get("spans", [])
                       if layer is not None and sp["layer"] == layer.id
                       and sp["label"] == label.id)
        starts = [a for a, _ in spans]
        reach = list(itertools.accumulate((b for _, b in spans), max))
        rejected = {tuple(p) for p in self.state.get("rejected", [])}
        out = []
        for n, (s, e) in enumerate(self.proposals):
            if (s, e) in rejected:
                continue
            # A quote span overlapping it means the proposal was decided already:
            # some span starting before e reaches past s.
            i = bisect.bisect_left(starts, e)
            if i and reach[i - 1] > s:
                continue
            out.append((f"?{n}", s, e))
        out.sort(key=lambda p: (p[1], p[2]))
        return out

    def _doc_after(self, step: int) -> DocInfo | None:
        """The document `step` places after (or before) the focused one, if there is one."""
        key = self.scope.step(self.doc.key, step)  # keys count from 1
        return self.store.document_at(key - 1) if key is not None else None

    def _row_step(self, step: int, extend: bool) -> bool:
        """In span mode: the cursor one visual row down/up (the view follows it).
        True if span mode took the key."""
        if self.span_anchor is None and not extend:
            return False
        to = self.query_one(UnitView).row_step(self.cursor, step)
        if to is None:
            self.notify("last row of this unit" if step > 0 else "first row of this unit")
        else:
            self._move(to, extend=extend)
        return True

    def action_extend_line_down(self) -> None:
        self._row_step(1, extend=True)

    def action_extend_line_up(self) -> None:
        self._row_step(-1, extend=True)

    def action_next_unit(self) -> None:
        if self._row_step(1, extend=False):
            return
        if self.unit < self.doc.last_unit:
            self.go(self.doc.id, self.unit + 1)
        elif nxt := self._doc_after(1):
            self.go(nxt.id, self._first(nxt))
        else:
            self.notify("last unit of the last document")

    def action_prev_unit(self) -> None:
        if self._row_step(-1, extend=False):
            return
        if self.unit > self._first(self.doc):
            self.go(self.doc.id, self.unit - 1)
        elif prev := self._doc_after(-1):
            self.go(prev.id, prev.last_unit)
        else:
            self.notify("first unit of the first document")

    def action_next_doc(self) -> None:
        self._to_doc(1, "last document")

    def action_prev_doc(self) -> None:
        self._to_doc(-1, "first document")

    def _to_doc(self, step: int, edge: str) -> None:
        doc = self._doc_after(step)
        if doc is None:
            self.notify(edge)
        else:
            self.go(doc.id, self._first(doc))

    # -- storing --------------------------------------------------------------------------
    def apply(self, action: dict) -> dict | None:
        """Store the action (durable on return), then take the state it produced."""
        seconds = time.monotonic() - self._focus_time
        try:
            change = self._store_call(self.journal.apply, self.doc.id, self.unit, action,
                                      seconds=seconds)
        except StoreError:
            return None
        except (ActionError, InputError) as exc:
            self.notify(str(exc), severity="error", markup=False)
            return None
        self._focus_time = time.monotonic()
        # The action stored the unit's current text (its sha): not stale, and no need
        # to ask the journal and the corpus again at every keypress.
        self._stale[change.unit] = None
        was = self._done(change.unit)
        old = self.states.get(change.unit) or {}
        self.states[change.unit] = change.state
        new = change.state
        if (old.get("spans") or []) != (new.get("spans") or []) or (
                (old.get("rejected") or []) != (new.get("rejected") or [])):
            # the open proposals follow the spans and the rejected ones only: a label
            # toggle keeps them (and their index, which the paragraph then need not
            # compare: a paragraph may hold thousands of quotes)
            self._open = None
        self.done_total += int(self._done(change.unit)) - int(was)
        return change.state

    def _store_call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the journal. When it cannot store (disk full, file damaged) the screen
        shows nothing as done: it says so, and keeps saying so on the status line until
        a write succeeds. Earlier actions are all stored."""
        try:
            result = method(*args, **kwargs)
        except StoreError as exc:
            problem = exc.problems[0]
            # Message first (the status line is narrow), cleaned as every message is.
            self.save_error = f"{safe_message(problem.message)} ({safe_message(problem.path)})"
            self.notify(self.save_error, title="not saved", severity="error", timeout=30,
                        markup=False)
            self.query_one(StatusLine).alert(self.save_error)
            raise
        if self.save_error is not None:
            self.save_error = None
            self.query_one(StatusLine).alert(None)
            self.notify("saving works again")
        return result

    def refresh_state(self, *, cursor_only: bool = False) -> None:
        """Redraw what depends on the unit's state: styles only, no re-wrap. A cursor
        move (`cursor_only`) touches the paragraph and the status line, nothing else."""
        state = self.state
        open_props = self._open_proposals()
        if self.selected is not None and not any(
                self.selected == i for i, _, _ in open_props) and not any(
                self.selected == s["id"] for s in state.get("spans", [])):
            self.selected = None
        self.source_proposal = self._propose_source()
        text = self.text(self.unit)
        # Spans whose text is no longer at their offsets (the paragraph changed on a
        # re-import): listed with ⚠, never drawn over words they do not cover.
        moved = frozenset(sp["id"] for sp in state.get("spans", [])
                          if "text" in sp and text[sp["start"]:sp["end"]] != sp["text"])
        view_spans = []
        if self.source_proposal is not None:
            _, a, b = self.source_proposal
            view_spans.append(ViewSpan("?source", a, b, 0, "?", proposal=True))
        for s in state.get("spans", []):
            if s["id"] in moved:
                continue
            look = self.looks.get((s["layer"], s["label"]), SpanLook("?", 0))
            view_spans.append(ViewSpan(s["id"], s["start"], s["end"], look.style, look.mark))
        widget = self._widget
        widget(UnitView).set_decor(Decor(
            tuple(view_spans), self.selected, self.link_target,
            self.cursor if text else None, self.span_anchor, self._done(self.unit),
            self._proposal_index(), self._matches(text)))
        mode, detail = self._mode()
        widget(StatusLine).show(mode, detail, state.get("note"))
        if cursor_only or not self._painted:
            return
        widget(LabelsPanel).show(
            self.schema, self.looks, state, [(i, s, e, text[s:e]) for i, s, e in self._near(open_props)],
            self.selected, len(open_props), moved=moved)
        widget(PositionBar).show(self.doc, self.doc_count, self.unit, state,
                                         self.done_total, self.unit_total,
                                         position=self.scope.position(self.doc.key),
                                         stale=self._stale_text(self.unit) is not None
                                         or bool(moved))

    def _widget(self, cls: type) -> Any:
        """The screen's one widget of type `cls` (composed once, never replaced): found
        once, not by a DOM query at every keypress."""
        found = self._widgets.get(cls)
        if found is None:
            found = self._widgets[cls] = self.query_one(cls)
        return found

    def _stale_text(self, unit: int) -> str | None:
        """The text `unit` had when this annotator annotated it, if a re-import has
        changed it since ("" if the store did not keep it); None if it is current."""
        if unit not in self._stale:
            old = None
            info = self.journal.info(self.doc.id, unit) if self.states.get(unit) else None
            if info and info.get("unit_sha"):
                now = self.store.unit(self.doc.id, unit)
                if now is not None and now.sha != info["unit_sha"]:
                    old = self.store.old_text(self.doc.id, unit, info["unit_sha"]) or ""
            self._stale[unit] = old
        return self._stale[unit]

    def action_old_text(self) -> None:
        """The paragraph as it was when annotated (ctrl+o), beside what it is now."""
        old = self._stale_text(self.unit)
        moved = [sp for sp in self.state.get("spans", []) if "text" in sp and self.text(
            self.unit)[sp["start"]:sp["end"]] != sp["text"]]
        if old is None and not moved:
            self.notify("this unit's text has not changed since it was annotated")
            return
        from annotator.tui.dialogs import HelpScreen, old_text_lines

        self.app.push_screen(HelpScreen(self.schema, old_text_lines(
            old, self.text(self.unit), moved)))

    def _matches(self, text: str) -> tuple[tuple[int, int], ...]:
        """Where the last search occurs in the focused unit (case-blind), to highlight;
        the first 200 (a paragraph of 5 MB may hold thousands)."""
        query = (self.last_search or "").lower()
        key = (id(text), query)
        if self._match_key != key:
            out: list[tuple[int, int]] = []
            low = text.lower()
            if query and len(low) == len(text):  # lower() kept the offsets
                at = low.find(query)
                while at >= 0 and len(out) < 200:
                    out.append((at, at + len(query)))
                    at = low.find(query, at + len(query))
            self._match_key, self._match_cache = key, tuple(out)
        return self._match_cache

    def _propose_source(self) -> tuple[str, int, int] | None:
        """The speaker proposed for the selected quote span, if it has no source yet,
        the schema has a relation for it, and the annotator has not turned it down."""
        span = self._span(self.selected)
        rel = self._relation(span)
        if span is None or rel is None or not self._source_label(rel):
            return None
        if any(r["from"] == span["id"] and r["label"] == rel.id
               for r in self.state.get("relations", [])):
            return None
        try:
            found = propose_source(self.text(self.unit), (span["start"], span["end"]))
        except Exception:  # a heuristic's bug must not cost the annotator the screen
            return None
        if found is None or list(found) in self.state.get("rejected_sources", []):
            return None
        return span["id"], found[0], found[1]

    def _source_label(self, rel: Relation) -> tuple[Layer, Label] | None:
        for layer in self.schema.span_layers:
            for target in rel.targets:
                label = layer.label(target)
                if label is not None:
                    return layer, label
        return None

    def accept_source(self) -> None:
        """Accept the proposed speaker: the source span (or the one already there) and
        the quote's relation to it, then the quote stays selected."""
        quote_id, a, b = self.source_proposal
        rel = self._relation(self._span(quote_id))
        layer, label = self._source_label(rel)
        existing = next((sp for sp in self.state.get("spans", [])
                         if (sp["start"], sp["end"], sp["label"]) == (a, b, label.id)), None)
        if existing is None:
            before = {sp["id"] for sp in self.state.get("spans", [])}
            state = self.apply({"type": "add_span", "layer": layer.id, "label": label.id,
                                "start": a, "end": b, "attributes": self._defaults(label)})
            if state is None:
                return
            new = [sp for sp in state["spans"] if sp["id"] not in before]
            existing = new[0] if new else None
        if existing is not None:
            self.apply({"type": "add_relation", "label": rel.id, "from": quote_id,
                        "to": existing["id"]})
        self.selected = quote_id
        self.refresh_state()

    def reject_source(self) -> None:
        _, a, b = self.source_proposal
        if self.apply({"type": "reject_proposal", "kind": "source", "start": a,
                       "end": b}) is not None:
            self.refresh_state()

    def _proposal_index(self) -> ProposalIndex:
        props = self._open_proposals()
        if self._index is None or self._index.items is not props:
            self._index = ProposalIndex(props)
        return self._index

    def _near(self, props: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
        """The few proposals the panel lists: around the selected one."""
        at = next((n for n, p in enumerate(props) if p[0] == self.selected), 0)
        lo = max(0, at - PANEL_PROPOSALS // 2)
        return props[lo:lo + PANEL_PROPOSALS]

    def _mode(self) -> tuple[str, str]:
        text = self.text(self.unit)
        if self.link_from is not None:
            target = self._span(self.link_target) if self.link_target else None
            what = f"{self.link_target} “{snippet(target['text'], 24)}”" if target else "?"
            return "LINK", f"{self.link_from} → {what}   tab: next  enter: link  x: unlink"
        if self.span_anchor is not None:
            a, b = sorted((self.span_anchor, self.cursor))
            keys = " ".join(f"{lab.key}={lab.name}" for lay in self.schema.span_layers
                            for lab in lay.labels if lab.key)
            return "SPAN", f"[{a},{b + 1}) “{snippet(text[a:b + 1], 20)}”  {keys}"
        if self.selected is not None:
            span = self._span(self.selected)
            if span is not None and self.source_proposal is not None:
                _, a, b = self.source_proposal
                return "", (f"{span['id']} {span['label']} [{span['start']},{span['end']}) "
                            f"source “{snippet(text[a:b], 30)}”? a: accept and link  "
                            "x: reject  r: link another")
            if span is not None:
                atts = " ".join(f"{k}={v}" for k, v in span.get("attributes", {}).items())
                return "", (f"{span['id']} {span['label']} [{span['start']},{span['end']}) "
                            f"{atts}  x: delete  t: type  r: link  other label key: relabel")
            return "", "proposed quote   a: accept  x: reject  tab: next"
        props = len(self._open_proposals())
        return "", (f"{props} proposed quote(s): tab to review, a accept, x reject"
                    if props else "")

    def _span(self, span_id: str | None) -> dict | None:
        return next((s for s in self.state.get("spans", []) if s["id"] == span_id), None)

    # -- paragraph labels -----------------------------------------------------------------
    def _bind_schema_keys(self) -> None:
        """Label and attribute hotkeys become Bindings like the fixed keys: all keys then
        take the same path, so fast typing (or a paste over a slow link) keeps its order.
        Ids name the label, so a keymap can remap them too."""
        keymap = self._bindings.key_to_bindings
        self._hotkey_list = list(self.hotkeys.values())
        for i, (key, (layer, label)) in enumerate(self.hotkeys.items()):
            keymap.setdefault(key, []).append(Binding(
                key, f"hotkey({i})", label.name, show=False,
                id=f"label.{layer.id}.{label.id}"))
        self._attribute_list = list(self.attribute_keys.values())
        for i, (key, att) in enumerate(self.attribute_keys.items()):
            keymap.setdefault(key, []).append(Binding(
                key, f"attribute({i})", att, show=False, id=f"attribute.{att}"))

    def action_hotkey(self, index: int) -> None:
        layer, label = self._hotkey_list[index]
        if layer.kind == "span":
            self.span_label(layer, label)
        else:
            self.toggle_label(layer, label)

    def action_attribute(self, index: int) -> None:
        self.cycle_attribute(self._attribute_list[index])

    def toggle_label(self, layer: Layer, label: Label) -> None:
        if self.apply({"type": "toggle_label", "layer": layer.id, "label": label.id}):
            self.refresh_state()

    def action_mark_done(self) -> None:
        if self.link_from is not None:
            self._confirm_link()
            return
        if self.span_anchor is not None:
            self.notify("press a span label key to make the span, or escape")
            return
        if self.apply({"type": "mark_done"}) is not None:
            self.refresh_state()  # on the last unit there is no next: show the mark
            self.action_next_unit()

    def action_skip(self) -> None:
        """Not content (`-`, a scrape leftover): a decision stored like any other, which
        takes the unit out of agreement for this annotator; pressed again, it clears."""
        skipped = self.state.get("status") == "skipped"
        if self.apply({"type": "set_skipped", "skipped": not skipped}) is not None:
            self.refresh_state()

    def action_flag(self) -> None:
        if self.apply({"type": "set_flag", "flag": not self.state.get("flag", False)}):
            self.refresh_state()

    def action_note(self) -> None:
        current = self.state.get("note")

        def save(note: str | None) -> None:
            if note is None or (note or None) == current:
                return
            if self.apply({"type": "set_note", "note": note}) is not None:
                self.refresh_state()

        from annotator.tui.dialogs import note_dialog

        self.app.push_screen(note_dialog(current), save)

    # -- undo / redo ----------------------------------------------------------------------
    def action_undo(self) -> None:
        with contextlib.suppress(StoreError):
            self._restore(self._store_call(self.journal.undo), "nothing to undo")

    def action_redo(self) -> None:
        with contextlib.suppress(StoreError):
            self._restore(self._store_call(self.journal.redo), "nothing to redo")

    def _restore(self, change: Any, empty: str) -> None:
        if change is None:
            self.notify(empty)
            return
        # An undo may touch any unit, even one from an earlier session: go there.
        self.done_total = self.journal.done_count(titles=self.schema.titles)
        if self.doc is not None and change.doc_id == self.doc.id:
            self.states[change.unit] = change.state
            self._open = None
        if self.doc is None or (change.doc_id, change.unit) != (self.doc.id, self.unit):
            self.go(change.doc_id, change.unit)
        else:
            self.refresh_state()

    # -- cursor and span mode ---------------------------------------------------------------
    def _move(self, to: int, extend: bool) -> None:
        text = self.text(self.unit)
        if not text:
            return
        to = max(0, min(to, len(text) - 1))
        deselect = extend and self.span_anchor is None and self.selected is not None
        if extend and self.span_anchor is None:
            self.span_anchor = self.cursor  # shift-moves start a span at the cursor
            self.selected = None
        self.cursor = to
        if not extend and self.span_anchor is not None:
            self.span_anchor = to  # plain moves place the start; extend grows from it
        self.refresh_state(cursor_only=not deselect)

    def _word_end_after(self, pos: int) -> int:
        m = WORD.search(self.text(self.unit), pos + 1)
        if m is None:
            return pos
        # m may start inside the word that holds pos+1: its end is the target
        return m.end() - 1

    def _word_start_before(self, pos: int) -> int:
        text = self.text(self.unit)
        window = 256
        while True:
            lo = max(0, pos - window)
            starts = [m.start() for m in WORD.finditer(text, lo, pos)]
            # a match cut by the window's left edge is not a real word start
            starts = [s for s in starts if s > lo or lo == 0 or not self._same_word(s - 1, s)]
            if starts:
                return starts[-1]
            if lo == 0:
                return pos
            window *= 4

    def _same_word(self, a: int, b: int) -> bool:
        text = self.text(self.unit)
        m = WORD.match(text, a)
        return m is not None and m.end() > b

    def action_char_forward(self) -> None:
        self._move(self.cursor + 1, extend=False)

    def action_char_back(self) -> None:
        self._move(self.cursor - 1, extend=False)

    def action_extend_forward(self) -> None:
        self._move(self.cursor + 1, extend=True)

    def action_extend_back(self) -> None:
        self._move(self.cursor - 1, extend=True)

    def action_word_forward(self) -> None:
        self._move(self._next_word(self.cursor), extend=False)

    def action_word_back(self) -> None:
        self._move(self._word_start_before(self.cursor), extend=False)

    def action_extend_word_forward(self) -> None:
        self._move(self._word_end_after(self.cursor), extend=True)

    def action_extend_word_back(self) -> None:
        self._move(self._word_start_before(self.cursor), extend=True)

    def _next_word(self, pos: int) -> int:
        text = self.text(self.unit)
        m = WORD.match(text, pos)
        after = m.end() if m else pos + 1
        n = WORD.search(text, after)
        return n.start() if n else pos

    def action_line_start(self) -> None:
        self._move(self.query_one(UnitView).row_bounds(self.cursor)[0], extend=False)

    def action_line_end(self) -> None:
        start, end = self.query_one(UnitView).row_bounds(self.cursor)
        row = self.text(self.unit)[start:end].rstrip()
        self._move(start + max(0, len(row) - 1), extend=False)

    def action_span_mode(self) -> None:
        if not self.text(self.unit):
            self.notify("this unit has no text")
            return
        if self.span_anchor is None:
            self.span_anchor = self.cursor
            self.selected = self.link_from = self.link_target = None
        else:
            self.span_anchor = None  # v again leaves span mode
        self.refresh_state()

    def action_cancel(self) -> None:
        if self.link_from is not None:
            self.link_from = self.link_target = None
        elif self.span_anchor is not None:
            self.span_anchor = None
        else:
            self.selected = None
        self.refresh_state()

    def _defaults(self, label: Label) -> dict[str, str]:
        return {a.id: a.default for a in label.attributes if a.default is not None}

    def span_label(self, layer: Layer, label: Label) -> None:
        """A span label hotkey: make the span (span mode), relabel the selected span,
        or accept the selected proposal with that label."""
        if self.span_anchor is not None:
            text = self.text(self.unit)
            a, b = sorted((self.span_anchor, self.cursor))
            b += 1
            # Spans never start or end in whitespace: trim what the cursor swept.
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            if a >= b:
                self.notify("the span holds only spaces")
                return
            self._add_span(layer, label, a, b)
            return
        if self.selected is None:
            self.notify("press v to start a span, or tab to select one")
            return
        if self.selected.startswith("?"):
            prop = next((p for p in self._open_proposals() if p[0] == self.selected), None)
            if prop is not None:
                self._add_span(layer, label, prop[1], prop[2])
            return
        span = self._span(self.selected)
        if span is None:
            return
        if span["layer"] != layer.id:
            self.notify(f"{label.name} is in another layer", markup=False)
            return
        if span["label"] != label.id and self.apply(
                {"type": "relabel_span", "span": span["id"], "label": label.id}):
            self.refresh_state()

    def _add_span(self, layer: Layer, label: Label, start: int, end: int) -> None:
        before = {s["id"] for s in self.state.get("spans", [])}
        state = self.apply({"type": "add_span", "layer": layer.id, "label": label.id,
                            "start": start, "end": end, "attributes": self._defaults(label)})
        if state is None:
            return
        self.span_anchor = None
        new = [s["id"] for s in state["spans"] if s["id"] not in before]
        self.selected = new[0] if new else None
        self.cursor = start
        self.refresh_state()

    def _items(self) -> list[str]:
        """Spans and open proposals in text order: what tab cycles through."""
        spans = sorted((s["start"], s["end"], s["id"]) for s in self.state.get("spans", []))
        props = ((s, e, i) for i, s, e in self._open_proposals())
        return [i for _, _, i in heapq.merge(spans, props)]

    def _cycle(self, items: list[str], current: str | None, step: int) -> str | None:
        if not items:
            return None
        if current not in items:
            return items[0] if step > 0 else items[-1]
        return items[(items.index(current) + step) % len(items)]

    def _select_step(self, step: int) -> None:
        if self.link_from is not None:
            self.link_target = self._cycle(self._link_targets(), self.link_target, step)
            self.refresh_state()
            return
        items = self._items()
        if not items:
            self.notify("no spans on this unit (v starts one)")
            return
        self.span_anchor = None
        self.selected = self._cycle(items, self.selected, step)
        self.refresh_state()

    def action_next_span(self) -> None:
        self._select_step(1)

    def action_prev_span(self) -> None:
        self._select_step(-1)

    def action_delete_span(self) -> None:
        if self.link_from is not None:
            rel = self._relation(self._span(self.link_from))
            for r in [r for r in self.state.get("relations", [])
                      if rel and r["from"] == self.link_from and r["label"] == rel.id]:
                self.apply({"type": "delete_relation", **r})
            self.link_from = self.link_target = None
            self.refresh_state()
            return
        if self.selected is None:
            self.notify("select a span with tab first")
            return
        if self.source_proposal is not None and self.selected == self.source_proposal[0]:
            self.reject_source()  # x again then deletes the quote itself
            return
        if self.selected.startswith("?"):
            prop = next((p for p in self._open_proposals() if p[0] == self.selected), None)
            following = self._after(self.selected)
            if prop is not None and self.apply(
                    {"type": "reject_proposal", "start": prop[1], "end": prop[2]}) is None:
                return
            self.selected = following
            self.refresh_state()
            return
        following = self._after(self.selected)
        if self.apply({"type": "delete_span", "span": self.selected}) is not None:
            self.selected = following
            self.refresh_state()

    def _after(self, item: str) -> str | None:
        """The item tab would select after `item`, other than `item` itself."""
        items = self._items()
        if item not in items or len(items) == 1:
            return None
        return items[(items.index(item) + 1) % len(items)]

    def action_accept_proposal(self) -> None:
        if self.source_proposal is not None and self.selected == self.source_proposal[0]:
            self.accept_source()
            return
        props = self._open_proposals()
        if not props or self.quote_label is None:
            self.notify("no proposed quotes on this unit")
            return
        chosen = next((p for p in props if p[0] == self.selected), props[0])
        self._add_span(*self.quote_label, chosen[1], chosen[2])

    # -- attributes and relations -----------------------------------------------------------
    def _label_of(self, span: dict) -> Label | None:
        layer = self.schema.layer(span["layer"])
        return layer.label(span["label"]) if layer else None

    def action_cycle_attribute(self) -> None:
        self.cycle_attribute(None)

    def cycle_attribute(self, attribute_id: str | None) -> None:
        span = self._span(self.selected)
        label = self._label_of(span) if span else None
        if span is None or label is None or not label.attributes:
            self.notify("select a span that has an attribute (tab)")
            return
        att: Attribute | None = (label.attribute(attribute_id) if attribute_id
                                 else label.attributes[0])
        if att is None:
            return
        current = span.get("attributes", {}).get(att.id)
        i = att.values.index(current) if current in att.values else -1
        value = att.values[(i + 1) % len(att.values)]
        if self.apply({"type": "set_attribute", "span": span["id"], "attribute": att.id,
                       "value": value}):
            self.refresh_state()

    def _relation(self, span: dict | None) -> Relation | None:
        if span is None:
            return None
        layer = self.schema.layer(span["layer"])
        return next((r for r in (layer.relations if layer else ())
                     if span["label"] in r.sources), None)

    def _link_targets(self) -> list[str]:
        rel = self._relation(self._span(self.link_from))
        if rel is None:
            return []
        return [s["id"] for s in sorted(self.state.get("spans", []),
                                        key=lambda s: (s["start"], s["end"]))
                if s["label"] in rel.targets and s["id"] != self.link_from]

    def action_link_span(self) -> None:
        span = self._span(self.selected)
        rel = self._relation(span)
        if rel is None:
            self.notify("select a quote span (tab), then r links it to its source")
            return
        self.link_from = span["id"]
        targets = self._link_targets()
        if not targets:
            self.link_from = None
            self.notify("mark the source first: v, move, then the source label key")
            return
        linked = [r["to"] for r in self.state.get("relations", [])
                  if r["from"] == span["id"] and r["label"] == rel.id]
        self.link_target = linked[0] if linked and linked[0] in targets else targets[0]
        self.refresh_state()

    def _confirm_link(self) -> None:
        rel = self._relation(self._span(self.link_from))
        if rel is not None and self.link_target is not None:
            self.apply({"type": "add_relation", "label": rel.id, "from": self.link_from,
                        "to": self.link_target})
        self.link_from = self.link_target = None
        self.refresh_state()

    # -- search, go to, help, quit ------------------------------------------------------------
    def action_search(self) -> None:
        def found(text: str | None) -> None:
            if text:
                self.last_search = text
                self._search(backwards=False)

        from annotator.tui.dialogs import search_dialog

        self.app.push_screen(search_dialog(self.last_search), found)

    def action_search_next(self) -> None:
        self._search(backwards=False)

    def action_search_prev(self) -> None:
        self._search(backwards=True)

    def _search(self, backwards: bool) -> None:
        if not self.last_search:
            self.notify("no search yet: press /")
            return
        hit = self.store.search(self.last_search, after=(self.doc.key, self.unit),
                                backwards=backwards, assigned_to=self.scope.annotator)
        if hit is None:
            self.notify(f"not found: {self.last_search}", markup=False)
            return
        if hit == (self.doc.id, self.unit):
            self.notify("this is the only unit containing it")
        self.go(*hit)

    def action_goto(self) -> None:
        from annotator.tui.dialogs import goto_dialog

        self.app.push_screen(goto_dialog(self.doc.id), self._goto)

    def _goto(self, where: str | None) -> None:
        where = (where or "").strip()
        if not where:
            return
        doc_part, unit_part = where, ""
        head, sep, tail = where.rpartition(":")
        if sep and _NUMBER.fullmatch(tail.strip()):
            doc_part, unit_part = head.strip(), tail.strip()
        doc = self.doc if not doc_part else self.store.document(doc_part)
        if doc is None and _NUMBER.fullmatch(doc_part):
            # a number is a position as the bar counts: within the annotator's documents
            key = self.scope.key_at(int(doc_part))
            doc = self.store.document_at(key - 1) if key is not None else None
        if doc is None:
            # the start of an id: unique among the annotator's documents, it is the one
            found = [d for d in self.store.documents_with_prefix(doc_part, GOTO_CANDIDATES)
                     if d.key in self.scope]
            if len(found) > 1:
                n = f"{len(found)}" if len(found) < GOTO_CANDIDATES else f"{len(found)}+"
                self.notify(f"{n} documents start with {doc_part!r}: "
                            + ", ".join(d.id for d in found[:8])
                            + (", …" if len(found) > 8 else ""),
                            severity="warning", markup=False)
                return
            doc = found[0] if found else None
        if doc is None:
            self.notify(f"no document {doc_part}", severity="error", markup=False)
            return
        if doc.key not in self.scope:
            self.notify(f"{doc.id} is not assigned to {self.journal.annotator}: you have "
                        f"{self.scope.count:,} document(s) (see `annotator status`)",
                        severity="error", markup=False)
            return
        unit = int(unit_part) if unit_part else self._first(doc)
        if not doc.first_unit <= unit <= doc.last_unit:
            self.notify(f"{doc.id} has units {doc.first_unit}..{doc.last_unit}",
                        severity="error", markup=False)
            return
        self.go(doc.id, unit)

    def action_help(self) -> None:
        # Dialogs are imported when first opened: nothing of theirs is in the first frame.
        from annotator.tui.dialogs import HelpScreen, help_lines

        if self._help is None:
            # Built once a session: 40,000 lines for a 10,000-label schema. They live as
            # long as the schema, so they are moved out of the garbage collector's
            # reach (gc.freeze), as the schema was at start: a full collection over
            # them takes seconds, with the app deaf to keys and to its terminal closing.
            self._help = help_lines(self.schema, action_keys(
                getattr(self.app, "user_keys", {})))
            gc.freeze()
        self.app.push_screen(HelpScreen(self.schema, self._help))

    def action_labels_down(self) -> None:
        self.query_one(LabelsPanel).scroll_down()

    def action_labels_up(self) -> None:
        self.query_one(LabelsPanel).scroll_up()

    def action_quit(self) -> None:
        # Nothing to save: every action was committed when it was shown.
        self.app.exit(0)
