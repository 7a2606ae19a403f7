"""The curator's screen (`annotator adjudicate`): annotators' versions side by side,
decisions into the gold journal.

Built on the annotation screen's widgets, used through their public methods only:
`UnitView` shows the paragraph with the gold's spans, `LabelsPanel` the gold's labels
with their hotkeys. What is particular to adjudication is drawn by `VersionsPanel`:
for every layer, each annotator's version (by name, or A, B, C with --anonymous), the
layers they disagree on marked `≠`, the layer in focus marked `▶`.

Every decision goes through `adjudication.session.Session` (the core), which applies
it to the gold journal synchronously (committed when it returns); only then is the
screen updated. Keys: see KEYS below and `?`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.geometry import Region
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from annotator.actions import ActionError
from annotator.adjudication.merge import layer_value, span_key
from annotator.adjudication.session import Progress, Session
from annotator.errors import InputError, StoreError
from annotator.keys import display_key
from annotator.schema import Label, LabelSchema, Layer
from annotator.store.base import DocInfo
from annotator.textclean import safe_message
from annotator.tui import css_cache
from annotator.tui.app import AnnotatorApp
from annotator.tui.compositor import SpanCompositor
from annotator.tui.fast_keys import FastKeys
from annotator.tui.info_bar import LateFooter, StatusLine, TextLines, clean_line
from annotator.tui.labels_panel import LabelsPanel, SpanLook, snippet, span_looks
from annotator.tui.styles import StyledOnce
from annotator.tui.unit_view import Decor, UnitView, ViewSpan

# (action, keys, description, in the footer). Only keys the annotation screen reserves
# (keys.DEFAULT_KEYS) or digits after `t`: validate keeps schema hotkeys clear of them.
KEYS: list[tuple[str, str, str, bool]] = [
    ("next_disagreement", "n", "next disagreement", True),
    ("prev_disagreement", "N", "previous disagreement", False),
    ("next_unit", "j,down", "next unit", False),
    ("prev_unit", "k,up", "previous unit", False),
    ("next_doc", "right_square_bracket", "next document", False),
    ("prev_doc", "left_square_bracket", "previous document", False),
    ("next_layer", "tab", "next layer", True),
    ("prev_layer", "shift+tab", "previous layer", False),
    ("take", "t", "take a version: t then the annotator's number", True),
    ("next_span", "w", "select the next span of the layer", False),
    ("prev_span", "b", "select the previous span of the layer", False),
    ("accept_span", "a", "accept the selected annotator's span into gold", False),
    ("delete_span", "x", "delete the selected gold span", False),
    ("edit_spans", "v", "edit the gold's spans as in annotate: draw, relabel, link, "
     "delete (escape: back)", True),
    ("accept_unit", "enter", "accept the unit as shown", True),
    ("search", "slash", "search the text (then enter; / again for the next)", False),
    ("undo", "u", "undo", True),
    ("redo", "ctrl+r", "redo", False),
    ("help", "question_mark", "help", True),
    ("quit", "q", "quit", True),
    ("cancel", "escape", "cancel", False),
]


def _value_text(layer: Layer, value: Any) -> str:
    """A layer's version as one line: label names (multi / single)."""
    if layer.kind == "multi":
        names = [(lab.name if (lab := layer.label(v)) else v) for v in sorted(value)]
        return ", ".join(names) if names else "(none)"
    if value is None:
        return "(none)"
    lab = layer.label(value)
    return lab.name if lab else str(value)


BLOCK_CACHE = 256  # layers' lines kept by the versions panel (a unit's few, toggled)


def _layer_lines(layer: Layer, here: bool, differs: bool, gold_value: Any,
                 values: tuple[tuple[int, str, Any], ...], styles: tuple) -> list[Text]:
    """A layer's lines in the versions panel: its name, each annotator's version
    (`values`: number, shown name, `layer_value`), the gold's."""
    layer_style, focus_style, differ_style, gold_style = styles
    lines: list[Text] = []

    def line() -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        lines.append(out)
        return out

    out = line()
    out.append("▶ " if here else "  ", focus_style)
    out.append(f"{layer.name} {'≠' if differs else '='}",
               (focus_style if here else layer_style) + (
                   differ_style if differs else layer_style))
    for number, shown, value in values:
        out = line()
        out.append(f"  {number} {shown} {'✓' if value == gold_value else ' '} ",
                   differ_style if value != gold_value else "")
        if layer.kind == "span":
            out.append(f"{len(value[0])} span(s), {len(value[1])} link(s)")
        else:
            out.append(_value_text(layer, value))
    out = line()
    out.append("  gold ", gold_style)
    if layer.kind == "span":
        out.append(f"{len(gold_value[0])} span(s), {len(gold_value[1])} link(s)")
    else:
        out.append(_value_text(layer, gold_value), gold_style)
    return lines


class VersionsPanel(TextLines):
    """Each annotator's version of every layer, disagreements marked, and the gold."""

    COMPONENT_CLASSES = {"versions-panel--layer", "versions-panel--focus",
                         "versions-panel--differ", "versions-panel--gold",
                         "versions-panel--selected"}
    _view: tuple[int, int] | None = None  # the region last scrolled to: (first, rows)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._blocks: dict[tuple, list[Text]] = {}  # a layer's lines, by what they show

    def show(self, schema: LabelSchema, names: list[tuple[int, str, str]],
             versions: dict[str, dict], gold: dict, focus: str, differ: list[str],
             candidates: list[tuple[str, str, dict]], selected: int | None) -> None:
        """`names`: (number, name, shown name) of every annotator; `candidates`: the
        selectable spans of the layer in focus as (owner name or "gold", id, span)."""
        # the styles kept until the CSS changes (CachedStyles): working them out walks
        # the widget's ancestors, five of them every keypress otherwise
        style = self.style_of
        styles = (style("versions-panel--layer"), style("versions-panel--focus"),
                  style("versions-panel--differ"), style("versions-panel--gold"))
        sel_style = style("versions-panel--selected")
        cache = self._blocks
        if len(cache) > BLOCK_CACHE:
            cache.clear()
        lines: list[Text] = []
        if not versions:
            lines.append(Text("no annotator has marked this unit done", no_wrap=True,
                              overflow="ellipsis"))
        focus_line = 0
        for layer in schema.layers:
            here = layer.id == focus
            if here:
                focus_line = len(lines)
            # A layer's lines are made once for what they show (a toggle changes one
            # layer's gold): the others are the very objects on screen, which
            # show_lines skips.
            gold_value = layer_value(gold, layer)
            values = tuple((number, shown, layer_value(v, layer)) for number, name, shown
                           in names if (v := versions.get(name)) is not None)
            key = (layer.id, here, layer.id in differ, gold_value, values, styles)
            block = cache.get(key)
            if block is None:
                block = cache[key] = [clean_line(line) for line in _layer_lines(
                    layer, here, layer.id in differ, gold_value, values, styles)]
            lines += block
            if here and layer.kind == "span":
                shown_of = {name: shown for _, name, shown in names}
                for i, (owner, _sid, sp) in enumerate(candidates):
                    out = Text(no_wrap=True, overflow="ellipsis")
                    out.append("  ▸ " if i == selected else "    ")
                    who = "gold" if owner == "gold" else shown_of.get(owner, owner)
                    out.append(f"{who}: {sp['label']} [{sp['start']},{sp['end']}) "
                               f"“{snippet(sp.get('text', ''))}”")
                    if i == selected:
                        out.stylize(sel_style)
                    lines.append(clean_line(out))  # names, span texts
        self.show_lines(lines)
        if self.parent is not None:
            # the layer in focus (and its spans) in view: the panel is short at 80x24.
            # Only when that region moved: a label toggle leaves it where it is.
            end = len(candidates) + len(names) + 3
            view = (focus_line, min(end, len(lines)))
            if view != self._view:
                self._view = view
                self.parent.scroll_to_region(Region(0, view[0], 1, view[1]),
                                             animate=False, top=True)


class ProgressLine(TextLines):
    def show_progress(self, doc: DocInfo, doc_count: int, unit: int, p: Progress | None,
                      gold: dict | None, curator: str) -> None:
        # Counts and marks first: a long document id is what the ellipsis cuts.
        counts = Text(no_wrap=True, overflow="ellipsis")
        if p is None:
            counts.append(f"reading the annotators' journals… · as {curator}")
        else:
            counts.append(f"decided {p.decided:,} · left {p.left:,} · with disagreement "
                          f"{p.disagreeing:,} ({p.disagreeing_left:,} left) · as {curator}")
        out = Text(no_wrap=True, overflow="ellipsis")
        if gold and gold.get("status") == "done":
            out.append("✓ decided" + (f" (auto: {gold['auto']})" if gold.get("auto") else ""))
        else:
            out.append("○ open")
        where = "title" if unit == 0 and doc.has_title else f"¶{unit}"
        out.append(f"  {where}  doc {doc.key:,}/{doc_count:,} {doc.id}")
        self.show_lines([clean_line(counts), clean_line(out)])  # a document id


class AdjudicateHelp(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "close", id="help_close")]

    def __init__(self, text: Text) -> None:
        super().__init__(id="adjudicate-help")
        self._text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-scroll"):
            yield Static(self._text, id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_close(self) -> None:
        self.dismiss(None)


class AdjudicateScreen(FastKeys, StyledOnce, Screen):
    BINDINGS = [Binding(keys, action, desc, show=show, id=f"adjudicate.{action}")
                for action, keys, desc, show in KEYS]

    def __init__(self, session: Session) -> None:
        super().__init__(id="adjudicate")
        if SpanCompositor.usable():
            # a keypress renders only the lines it sends (compositor.py)
            self._compositor = SpanCompositor()
        self.session = session
        self.store = session.store
        self.schema = session.schema
        self.looks: dict[tuple[str, str], SpanLook] = span_looks(self.schema)
        self.numbers = [(i + 1, n, session.shown_name(n)) for i, n in
                        enumerate(session.names[:9])]
        self.doc: DocInfo | None = None
        self.unit = 0
        self.layer_index = 0
        self.taking = False  # `t` pressed: the next digit names an annotator
        self.selected: int | None = None  # index into the candidate spans
        self._doc_count: int | None = None  # counted after the first frame (doc_count)
        self.versions: dict[str, dict] = {}
        self.gold: dict = {}
        self.stored_gold: dict | None = None
        self.differ: list[str] = []
        self.hotkeys = {k: v for k, v in self.schema.hotkeys().items()}
        self._bind_keys()

    # -- keys ---------------------------------------------------------------------------
    def _bind_keys(self) -> None:
        keymap = self._bindings.key_to_bindings
        digits = {str(d) for d in range(1, 10)}
        self._hotkey_list: list[tuple[Layer, Label]] = []
        for key, (layer, label) in self.hotkeys.items():
            if key in digits:
                continue  # digits are bound below: after `t` they name an annotator
            keymap.setdefault(key, []).append(Binding(
                key, f"hotkey({len(self._hotkey_list)})", label.name, show=False,
                id=f"label.{layer.id}.{label.id}"))
            self._hotkey_list.append((layer, label))
        for d in sorted(digits):
            keymap.setdefault(d, []).append(Binding(d, f"digit({d})", d, show=False,
                                                    id=f"adjudicate.digit{d}"))

    # -- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield ProgressLine(id="progress")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield UnitView(id="unit")
                with VerticalScroll(id="versions-scroll", can_focus=False):
                    yield VersionsPanel(id="versions")
            with VerticalScroll(id="labels-scroll", can_focus=False):
                yield LabelsPanel(id="labels")
        yield StatusLine(id="status")
        yield LateFooter()

    @property
    def doc_count(self) -> int:
        if self._doc_count is None:  # count(*) of the documents: not for the first frame
            self._doc_count = self.store.document_count()
        return self._doc_count

    # False until the first frame is drawn: the paragraph (and the status line, which
    # sets the layout's height) comes first; the panels of versions and labels and the
    # progress line are filled right after it, as on the annotation screen (their text
    # and styles cost the first paint more than the paragraph did).
    _painted = False

    def on_resize(self, event: Any) -> None:
        # The labels panel takes the width its names need, as the terminal allows (from
        # the first layout on: filling the panel later moves nothing).
        self.query_one(LabelsPanel).fit(self.schema, event.size)

    def on_mount(self) -> None:
        self._unit_view = self.query_one(UnitView)
        self._labels_panel = self.query_one(LabelsPanel)
        self._versions_panel = self.query_one(VersionsPanel)
        self._progress_line = self.query_one(ProgressLine)
        self._status_line = self.query_one(StatusLine)
        self._labels_panel.fit(self.schema, self.app.size)
        self.call_after_refresh(self._after_first_frame)
        if self.session.ready or not self.session.can_read_aside:
            self.go(*self._start())
            return
        # The whole corpus's versions (which units disagree, the counts) take seconds
        # on a million units: read in a thread on connections of its own, after the
        # first unit is on screen. Until then n / N say so and the counts wait.
        first = self.store.document_at(0)
        self.go(first.id, first.first_unit)
        self._moved = False
        # after the first frame: the reader thread would otherwise hold the interpreter
        # while that frame is composed
        self.call_after_refresh(lambda: self.run_worker(
            self._read_aside, thread=True, exit_on_error=False, name="adjudicate-read"))

    _moved = True  # the curator moved or decided since the screen opened

    def _after_first_frame(self) -> None:
        self._painted = True
        self._add_fast_twins()  # (fast_keys.py) all bindings are in: _bind_keys
        self.redraw()

    def _read_aside(self) -> None:
        try:
            result: Any = self.session.read_aside()
        except Exception as exc:  # shown, not a crash: the screen still decides units
            result = exc
        with contextlib.suppress(RuntimeError):  # the app ended meanwhile
            self.app.call_from_thread(self._read_done, result)

    def _read_done(self, result: Any) -> None:
        if isinstance(result, Exception):
            msg = safe_message(str(result))
            self.notify(f"could not read the annotators' journals: {msg}", severity="error",
                        timeout=30, markup=False)
            return
        self.session.install(*result)
        if not self._moved:
            self.go(*self._start())  # the first open disagreement, as without the wait
        else:
            self.redraw()

    def _start(self) -> tuple[str, int]:
        """The first open unit with a disagreement, else the first unit."""
        first = self.store.document_at(0)
        found = self.session.next_disagreement(0, -1)
        seen = set()
        while found is not None and found not in seen:
            seen.add(found)
            doc = self.store.document_at(found[0] - 1)
            gold = self.session.gold_state(doc.id, found[1]) if doc is not None else None
            if doc is not None and (gold or {}).get("status") != "done":
                return doc.id, found[1]
            found = self.session.next_disagreement(*found)
        return first.id, first.first_unit

    @property
    def layer(self) -> Layer:
        return self.schema.layers[self.layer_index]

    # -- showing ------------------------------------------------------------------------
    def go(self, doc_id: str, unit: int) -> None:
        self._moved = True
        if self.doc is None or self.doc.id != doc_id:
            self.doc = self.store.document(doc_id)
        self.unit = unit
        self.selected = None
        self.taking = False
        u = self.store.unit(doc_id, unit)
        prev = self.store.unit(doc_id, unit - 1) if unit > self.doc.first_unit else None
        nxt = self.store.unit(doc_id, unit + 1) if unit < self.doc.last_unit else None
        self._unit_view.show(
            (doc_id, unit), (prev.text, False) if prev else None,
            (u.text if u else "", False), (nxt.text, False) if nxt else None)
        self._versions_panel._view = None  # another unit: its layer in focus in view
        self.session.forget_versions()  # read afresh on arrival, then kept while here
        self._read()
        if self._painted:
            self.redraw()
        else:  # the first frame: the paragraph with its marks, and the status line
            self._decorate(self.candidates())
            self._status()

    def reload(self, decided: dict | None = None) -> None:
        """Read the unit's gold (its versions: as read on arrival, `Session.versions`),
        and show what changed. `decided`: the gold state a decision on this unit just
        committed (its `Change.state`): not read back."""
        self._read(decided)
        self.redraw()

    def _read(self, decided: dict | None = None) -> None:
        doc_id, unit = self.doc.id, self.unit
        self.versions = self.session.versions(doc_id, unit)
        self.stored_gold = (decided if decided is not None
                            else self.session.gold_state(doc_id, unit))
        self.gold = self.session.shown_gold(doc_id, unit, self.versions, self.stored_gold or {})
        self.differ = self.session.disagreements(doc_id, unit, self.versions)

    def candidates(self) -> list[tuple[str, str, dict]]:
        """Spans of the span layer in focus to select: the gold's, then each
        annotator's that the gold does not have (one of each position and label)."""
        layer = self.layer
        if layer.kind != "span":
            return []
        gold_spans = [s for s in self.gold.get("spans") or () if s["layer"] == layer.id]
        have = {span_key(s) for s in gold_spans}
        out: list[tuple[str, str, dict]] = [("gold", s["id"], s) for s in gold_spans]
        for name, v in self.versions.items():
            for s in v.get("spans") or ():
                if s["layer"] == layer.id and span_key(s) not in have:
                    have.add(span_key(s))
                    out.append((name, s["id"], s))
        return out

    def _decorate(self, cands: list[tuple[str, str, dict]]) -> None:
        """The paragraph's marks: the gold's spans, the selected one, decided or not."""
        spans = []
        for s in self.gold.get("spans") or ():
            look = self.looks.get((s["layer"], s["label"]), SpanLook("?", 0))
            spans.append(ViewSpan(f"gold:{s['id']}", s["start"], s["end"], look.style,
                                  look.mark))
        sel = None
        if self.selected is not None:
            owner, sid, s = cands[self.selected]
            sel = f"{owner}:{sid}"
            if owner != "gold":
                spans.append(ViewSpan(sel, s["start"], s["end"], 0, "+"))
        decided = (self.stored_gold or {}).get("status") == "done"
        self._unit_view.set_decor(Decor(tuple(spans), sel, done=decided))

    def redraw(self) -> None:
        cands = self.candidates()
        if self.selected is not None and self.selected >= len(cands):
            self.selected = None
        self._decorate(cands)
        # Each widget is rebuilt only when what it shows changed (same_as_shown), and
        # then updates only the cells that differ: a label toggle redraws the labels
        # panel's box and the versions' marks, not the progress or status lines.
        gold = self.gold
        labels = self._labels_panel
        if not labels.same_as_shown((gold.get("labels"), gold.get("spans"),
                                     gold.get("relations"))):
            labels.show(self.schema, self.looks, gold, [], None)
        versions = self._versions_panel
        if not versions.same_as_shown((self.versions, gold, self.layer_index, self.differ,
                                       cands, self.selected)):
            versions.show(self.schema, self.numbers, self.versions, gold, self.layer.id,
                          self.differ, cands, self.selected)
        p = self.session.progress_if_ready()
        stored = self.stored_gold or {}
        progress = self._progress_line
        if not progress.same_as_shown((
                self.doc, self.unit, stored.get("status"), stored.get("auto"),
                None if p is None else (p.decided, p.left, p.disagreeing,
                                        p.disagreeing_left))):
            progress.show_progress(
                self.doc, self.doc_count, self.unit, p, self.stored_gold,
                self.session.shown_name(self.session.curator)
                if self.session.curator in self.session.names else self.session.curator)
        self._status()

    def _status(self, mode: str = "", detail: str | None = None) -> None:
        if detail is None:
            keys = "  ".join(f"t{n} {shown}" for n, _, shown in self.numbers)
            detail = f"layer {self.layer.name}: {keys}" if keys else "no annotator yet"
        status = self._status_line
        if not status.same_as_shown((mode, detail, self._alerted)):
            status.show(mode, detail, None)

    # -- deciding -------------------------------------------------------------------------
    def decide(self, call: Any, *args: Any) -> bool:
        """Run a Session call (durable when it returns), then show its result."""
        self._moved = True  # the read's end must not take the curator elsewhere
        try:
            change = call(self.doc.id, self.unit, *args)
        except StoreError as exc:
            problem = exc.problems[0]
            msg = f"{safe_message(problem.message)} ({safe_message(problem.path)})"
            self._alert(msg)
            self.notify(msg, title="not saved", severity="error", timeout=30, markup=False)
            return False
        except (ActionError, InputError) as exc:
            self.notify(safe_message(str(exc)), severity="error", markup=False)
            return False
        self._alert(None)
        # the committed state, as gold_state would read it back (None: none stored)
        self.reload(decided=change.state if change.state else None)
        return True

    _alerted: str | None = None  # the failed save the status line shows

    def _alert(self, message: str | None) -> None:
        if message != self._alerted:  # (saving works again: once, not every keypress)
            self._alerted = message
            self._status_line.alert(message)

    def action_take(self) -> None:
        if not self.numbers:
            self.notify("no annotator has a journal here")
            return
        self.taking = True
        self._status("take", f"whose {self.layer.name}? " + "  ".join(
            f"{n} {shown}" for n, _, shown in self.numbers) + "  (escape: cancel)")

    def action_digit(self, digit: int | str) -> None:
        digit = str(digit)  # the action string "digit(1)" passes an int
        if self.taking:
            self.taking = False
            n = int(digit)
            match = [name for number, name, _ in self.numbers if number == n]
            if not match:
                self._status()
                self.notify(f"no annotator {n}")
                return
            if match[0] not in self.versions:
                self._status()
                self.notify(f"{self.session.shown_name(match[0])} has not done this unit")
                return
            self.decide(self.session.take_version, self.layer.id, match[0])
            return
        hot = self.hotkeys.get(digit)
        if hot is not None:
            self.toggle(*hot)

    def action_hotkey(self, index: int) -> None:
        self.taking = False
        self.toggle(*self._hotkey_list[index])

    def toggle(self, layer: Layer, label: Label) -> None:
        if layer.kind == "span":
            cands = self.candidates()
            if (self.selected is not None and cands[self.selected][0] == "gold"
                    and cands[self.selected][2]["layer"] == layer.id):
                # a selected gold span: its label key relabels it, as in annotate
                self.decide(self.session.apply, {"type": "relabel_span", "label": label.id,
                                                 "span": cands[self.selected][1]})
                return
            self.notify("spans: take a version (t and a number), select one (w / b) and "
                        "accept it (a), or draw and edit them as in annotate (v); a span "
                        "label key relabels a selected gold span")
            return
        self.decide(self.session.apply, {"type": "toggle_label", "layer": layer.id,
                                         "label": label.id})

    def action_accept_unit(self) -> None:
        if self.decide(self.session.accept_unit):
            self.action_next_disagreement()

    def _select_step(self, step: int) -> None:
        cands = self.candidates()
        if not cands:
            self.notify(f"no spans in {self.layer.name}" if self.layer.kind == "span"
                        else "tab to a span layer to select spans")
            return
        if self.selected is None:
            self.selected = 0 if step > 0 else len(cands) - 1
        else:
            self.selected = (self.selected + step) % len(cands)
        self.redraw()

    def action_next_span(self) -> None:
        self._select_step(1)

    def action_prev_span(self) -> None:
        self._select_step(-1)

    def action_accept_span(self) -> None:
        cands = self.candidates()
        if self.selected is None or cands[self.selected][0] == "gold":
            self.notify("select an annotator's span first (w / b)")
            return
        owner, sid, span = cands[self.selected]
        if self.decide(self.session.accept_span, owner, sid):
            # the accepted span, now the gold's, stays selected (x deletes it again)
            key = span_key(span)
            self.selected = next((i for i, (who, _, sp) in enumerate(self.candidates())
                                  if who == "gold" and span_key(sp) == key), None)
            self.redraw()

    def action_delete_span(self) -> None:
        cands = self.candidates()
        if self.selected is None or cands[self.selected][0] != "gold":
            self.notify("select a gold span first (w / b)")
            return
        self.decide(self.session.apply, {"type": "delete_span",
                                         "span": cands[self.selected][1]})

    def action_edit_spans(self) -> None:
        """The annotation screen's span editing, on this unit's gold (tui/gold_spans.py):
        in span mode at the text's start, or with the selected gold span selected."""
        from annotator.tui.gold_spans import GoldSpanScreen

        cands = self.candidates()
        picked = cands[self.selected][1] if (
            self.selected is not None and cands[self.selected][0] == "gold") else None
        editor = GoldSpanScreen(self.session, self.doc.id, self.unit, select=picked)

        def back(where: tuple[str, int] | None) -> None:
            if where is not None and where != (self.doc.id, self.unit):
                self.go(*where)
            else:
                self.reload()

        self.app.push_screen(editor, back)

    def action_search(self) -> None:
        from annotator.tui.dialogs import search_dialog

        def found(text: str | None) -> None:
            if not text:
                return
            self.last_search = text
            hit = self.store.search(text, after=(self.doc.key, self.unit))
            if hit is None:
                self.notify(f"not found: {safe_message(text)}", markup=False)
            else:
                self.go(*hit)

        self.app.push_screen(search_dialog(getattr(self, "last_search", None)), found)

    def action_cancel(self) -> None:
        self.taking = False
        self.selected = None
        self.redraw()

    def action_undo(self) -> None:
        self._restore(self.session.undo, "nothing to undo")

    def action_redo(self) -> None:
        self._restore(self.session.redo, "nothing to redo")

    def _restore(self, method: Any, empty: str) -> None:
        with contextlib.suppress(StoreError):
            try:
                change = method()
            except StoreError as exc:
                self._alert(safe_message(exc.problems[0].message))
                raise
            if change is None:
                self.notify(empty)
                return
            if (change.doc_id, change.unit) != (self.doc.id, self.unit):
                self.go(change.doc_id, change.unit)
            else:
                self.reload()

    # -- moving ---------------------------------------------------------------------------
    def action_next_layer(self) -> None:
        self.layer_index = (self.layer_index + 1) % len(self.schema.layers)
        self.selected = None
        self.redraw()

    def action_prev_layer(self) -> None:
        self.layer_index = (self.layer_index - 1) % len(self.schema.layers)
        self.selected = None
        self.redraw()

    def _disagreement(self, backwards: bool) -> None:
        if not self.session.ready:
            self.notify("still reading the annotators' journals: n / N work in a moment")
            return
        found = self.session.next_disagreement(self.doc.key, self.unit, backwards)
        if found is None:
            self.notify("no unit with a disagreement")
            return
        doc = self.store.document_at(found[0] - 1)
        if doc is not None:
            self.go(doc.id, found[1])

    def action_next_disagreement(self) -> None:
        self._disagreement(False)

    def action_prev_disagreement(self) -> None:
        self._disagreement(True)

    def action_next_unit(self) -> None:
        if self.unit < self.doc.last_unit:
            self.go(self.doc.id, self.unit + 1)
        else:
            self._to_doc(1, "first")

    def action_prev_unit(self) -> None:
        if self.unit > self.doc.first_unit:
            self.go(self.doc.id, self.unit - 1)
        else:
            self._to_doc(-1, "last")

    def _to_doc(self, step: int, edge: str) -> None:
        doc = self.store.document_at(self.doc.key - 1 + step)
        if doc is None:
            self.notify("no more documents")
            return
        self.go(doc.id, doc.first_unit if edge == "first" else doc.last_unit)

    def action_next_doc(self) -> None:
        self._to_doc(1, "first")

    def action_prev_doc(self) -> None:
        self._to_doc(-1, "first")

    def action_help(self) -> None:
        out = Text()
        out.append("Adjudication keys\n\n", "bold")
        for _, keys, desc, _ in KEYS:
            shown = " ".join(display_key(k) for k in keys.split(","))
            out.append(f"  {shown:<14} {desc}\n")
        out.append("\nAnnotators (t then the number takes their version of the layer in "
                   "focus)\n\n", "bold")
        for n, _, shown in self.numbers:
            out.append(f"  t{n}  {shown}\n")
        out.append("\nLabels (their hotkeys toggle the gold's labels)\n\n", "bold")
        for key, (layer, label) in self.hotkeys.items():
            if layer.kind != "span":
                out.append(f"  {display_key(key):<3} {layer.name}: {label.name}\n")
        self.app.push_screen(AdjudicateHelp(out))

    def action_quit(self) -> None:
        self.app.exit(0)  # nothing to save: every decision was committed when shown


class AdjudicatorApp(AnnotatorApp):
    """The annotation app's shell (signals, terminal watch, CSS) with this screen."""

    CSS = """
    #left { width: 1fr; }
    #left > UnitView { height: 1fr; }
    #versions-scroll { height: 45%; border-top: hkey $panel-lighten-2; }
    #versions { padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    #versions > .versions-panel--layer { text-style: bold; }
    #versions > .versions-panel--focus { text-style: bold reverse; }
    #versions > .versions-panel--differ { text-style: bold; color: $warning; }
    #versions > .versions-panel--gold { text-style: bold; color: $success; }
    #versions > .versions-panel--selected { text-style: reverse; }
    #progress { height: 2; padding: 0 1; background: $panel; text-wrap: nowrap;
                text-overflow: ellipsis; }
    """

    def __init__(self, session: Session) -> None:
        super().__init__(session.store, session.gold, session.schema)
        self.session = session

    def get_default_screen(self) -> Screen:
        return AdjudicateScreen(self.session)


def run_adjudicate(session: Session) -> int:
    app = AdjudicatorApp(session)
    app.hard_exit = True  # as run_app: a dead terminal must not keep the session alive
    try:
        app.run()
    finally:
        if app._grace is not None:
            app._grace.cancel()  # the shutdown finished in time
    css_cache.save()  # what dialogs and help parsed since the first frame
    if app.store_failure is not None:
        raise app.store_failure
    return app.return_code or 0
