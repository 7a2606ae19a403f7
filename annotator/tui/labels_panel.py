"""The schema's labels with their hotkeys and which are on, plus the unit's spans.

Everything is built as `rich.text.Text` (label names and span texts come from
schemas and articles: never markup). On/off is a mark ([x], (•), ✓), not colour.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.containers import ScrollableContainer
from textual.geometry import Region, Size
from textual.strip import Strip

from annotator.keys import display_key
from annotator.schema import Label, LabelSchema, Layer
from annotator.textclean import safe_inline
from annotator.tui.info_bar import TextLines, clean_line
from annotator.tui.unit_view import SPAN_STYLES

SNIPPET = 28  # characters of a span's text shown in the list
CHROME = 3  # the panel's border, its left padding and its (reserved) scrollbar column
TEXT_MIN = 40  # columns the paragraph keeps, however long the label names are
PANEL_MIN = 28  # columns the panel gets on a narrow terminal (half of it at most)
TEXT_FLOOR = 34  # ... and at the least, to keep the whole schema in view
ROWS_AROUND = 5  # position bar (2), status line, footer, a spare row
NAME_LINES = 3  # a label name wraps onto at most this many lines, then "…"
LINE_CACHE = 4096  # labels' lines kept (key, box, name wrapped), per width and style


class SpanLook(NamedTuple):
    """How spans of a label are drawn (a NamedTuple: no dataclass generated at import)."""

    mark: str  # one letter drawn next to the span
    style: int  # span style index


def span_looks(schema: LabelSchema) -> dict[tuple[str, str], SpanLook]:
    """(layer id, label id) -> how spans of that label look. The mark is the label's
    one-letter hotkey when it has one (what the annotator types), else its initial."""
    out: dict[tuple[str, str], SpanLook] = {}
    for i, (layer, label) in enumerate(
            (lay, lab) for lay in schema.span_layers for lab in lay.labels):
        key = display_key(label.key) if label.key else ""
        mark = key if len(key) == 1 else (label.name[:1] or "?").upper()
        out[(layer.id, label.id)] = SpanLook(mark, i % SPAN_STYLES)
    return out


def _key(label: Label) -> str:
    return display_key(label.key) if label.key else " "


def snippet(text: str, width: int = SNIPPET) -> str:
    text = " ".join(safe_inline(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def wrap_words(text: str, width: int, max_lines: int = NAME_LINES) -> list[str]:
    """`text` in lines of at most `width` cells, broken between words (a word longer
    than a line is cut), at most `max_lines` lines, the last ending in "…" if text was
    left over. Width 0 or less: one line (the width is not known yet)."""
    if width <= 0 or cell_len(text) <= width:
        return [text]
    lines: list[str] = []
    line = ""
    for word in text.split():
        if cell_len(word) > width:  # a word longer than a line: a line of its own, cut
            if line:
                lines.append(line)
                line = ""
            while cell_len(word) > width:
                cut = _cut(word, width)
                lines.append(word[:cut])
                word = word[cut:]
        if not line:
            line = word
        elif cell_len(line) + 1 + cell_len(word) <= width:
            line = f"{line} {word}"
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        last = last[:_cut(last, width - 1)]
        lines = [*lines[:max_lines - 1], last + "…"]
    return lines


def _cut(word: str, room: int) -> int:
    """How many characters of `word` fit in `room` cells (at least one)."""
    n = 0
    used = 0
    for ch in word:
        used += cell_len(ch)
        if used > room:
            break
        n += 1
    return max(1, n)


def panel_width(schema: LabelSchema, terminal_width: int, rows: int = 0) -> int:
    """Columns for the labels panel: what its longest line needs, within 45% of the
    terminal and leaving the paragraph `TEXT_MIN` columns; long names wrap in it.
    When the wrapped labels would not fit in `rows` (the panel's height) though they
    would unwrapped, the panel takes more (the paragraph keeps `TEXT_FLOOR`): the
    whole schema in view beats a narrower paragraph. A schema longer than the
    screen scrolls anyway (keyboard, sticky headings)."""
    need = max((cell_len(f"{safe_inline(layer.name)} ({layer.kind})")
                for layer in schema.layers), default=0)
    for layer in schema.layers:
        for label in layer.labels:
            need = max(need, _label_cells(label) + cell_len(safe_inline(label.name)))
    need = max(need, SNIPPET + 8) + CHROME  # a span's line: id, mark, text
    share = max(30, terminal_width * 9 // 20)
    # a narrow terminal: the panel still gets PANEL_MIN (names wrap in 18 columns)
    width = max(min(PANEL_MIN, terminal_width // 2),
                min(need, share, terminal_width - TEXT_MIN))
    flat = len(schema.layers) + sum(len(layer.labels) for layer in schema.layers)
    if not rows or flat > rows:
        return width
    for wider in range(width, max(width, min(need, terminal_width - TEXT_FLOOR)) + 1):
        if _wrapped_lines(schema, wider - CHROME) <= rows:
            return wider
    return width


def _label_cells(label: Label) -> int:
    """Cells before a label's name: " k [x] "."""
    return 3 + cell_len(_key(label)) + 4


def _wrapped_lines(schema: LabelSchema, width: int) -> int:
    return len(schema.layers) + sum(
        len(wrap_words(safe_inline(label.name), width - _label_cells(label)))
        for layer in schema.layers for label in layer.labels)


class LabelsPanel(TextLines):
    """Rebuilt on every change of the unit's state (a few dozen lines of Text).

    Label names wrap to the panel's width (hanging under the name), and the heading
    of the layer at the top of the view stays drawn on the first row while the
    panel is scrolled (a sticky heading: with spans listed, or a large schema, the
    panel scrolls and "which layer is this" must not scroll away)."""

    COMPONENT_CLASSES = {
        "labels-panel--layer",
        "labels-panel--key",
        "labels-panel--on",
        "labels-panel--selected",
        "labels-panel--proposal",
    }

    _args: tuple | None = None
    _headings: tuple[int, ...] = ()
    _fitted: tuple[int, Size] | None = None  # (schema id, terminal size)
    _wrap_width = 0
    _line_cache: dict[tuple, list[Text]] | None = None
    _cache_for: tuple[int, int, int] = (-1, 0, 0)  # (width, schema id, looks id)

    def fit(self, schema: LabelSchema, terminal: Size) -> None:
        """Size the panel (its scroll container) for this schema and terminal."""
        key = (id(schema), terminal)
        if self._fitted == key or not isinstance(self.parent, ScrollableContainer):
            return
        self._fitted = key
        # the panel's rows: the terminal less the bars above and below it
        rows = self.parent.size.height or max(0, terminal.height - ROWS_AROUND)
        width = panel_width(schema, terminal.width, rows)
        self.parent.styles.width = width
        self.parent.styles.max_width = width

    def on_mount(self) -> None:
        if isinstance(self.parent, ScrollableContainer):
            self.watch(self.parent, "scroll_y", self._scrolled, init=False)

    def on_resize(self, event: events.Resize) -> None:
        # The names wrap to the width: a new width re-wraps them.
        if event.size.width != self._wrap_width and self._args is not None:
            # after this layout pass: a new line count asks for another one
            self.call_after_refresh(self._reshow)

    def _reshow(self) -> None:
        if self._args is not None and self.content_size.width != self._wrap_width:
            self.show(*self._args)

    def _top(self) -> int:
        parent = self.parent
        return int(parent.scroll_y) if isinstance(parent, ScrollableContainer) else 0

    def _scrolled(self, old: float, new: float) -> None:
        width = self.content_size.width
        for y in {int(old), int(new)}:
            self.refresh(Region(0, y, width, 1))

    def heading_of(self, y: int) -> int | None:
        """The line of the heading that line `y` is under."""
        heading = None
        for h in self._headings:
            if h > y:
                break
            heading = h
        return heading

    def render_line(self, y: int) -> Strip:
        top = self._top()
        if y == top and top > 0:
            heading = self.heading_of(y)
            if heading is not None and heading != y:
                return super().render_line(heading)  # the sticky heading
        return super().render_line(y)

    def scroll_down(self) -> None:
        """A page down (keyboard: a large schema does not fit on the screen)."""
        if isinstance(self.parent, ScrollableContainer):
            self.parent.scroll_page_down(animate=False)

    def scroll_up(self) -> None:
        if isinstance(self.parent, ScrollableContainer):
            self.parent.scroll_page_up(animate=False)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._line_cache = None  # the cached lines carry the old styles

    def _cached(self, key: tuple, build: Any) -> list[Text]:
        """The lines `build()` makes for `key`, made once per width and style: a label
        toggle then rebuilds the one label that changed, and the lines of the others
        are the very objects on screen (show_lines skips them)."""
        cache = self._line_cache
        if cache is None or len(cache) > LINE_CACHE:
            cache = self._line_cache = {}
        lines = cache.get(key)
        if lines is None:
            out = Text(no_wrap=True, overflow="ellipsis")
            build(out)
            lines = cache[key] = [clean_line(line) for line in out.split("\n")]
        return lines

    def show(self, schema: LabelSchema, looks: dict[tuple[str, str], SpanLook],
             state: dict | None, proposals: list[tuple[str, int, int, str]],
             selected: str | None, proposal_count: int = 0,
             moved: frozenset[str] = frozenset()) -> None:
        """`looks`: `span_looks(schema)`. `proposals`: (id, start, end, text) of some
        quotes proposed and not yet decided (near the selection), of `proposal_count` in
        all. `moved`: ids of spans whose text is no longer at their offsets (listed
        with ⚠)."""
        self._args = (schema, looks, state, proposals, selected, proposal_count, moved)
        if self.is_mounted:
            self.fit(schema, self.app.size)
        width = self.content_size.width
        if (width, id(schema), id(looks)) != self._cache_for:
            self._cache_for, self._line_cache = (width, id(schema), id(looks)), None
        self._wrap_width = width
        headings: list[int] = []
        state = state or {}
        labels = state.get("labels", {})
        spans = state.get("spans", [])
        style = self.style_of
        layer_style = style("labels-panel--layer")
        key_style = style("labels-panel--key")
        on_style = style("labels-panel--on")
        sel_style = style("labels-panel--selected")
        cached = self._cached
        lines: list[Text] = []
        for layer in schema.layers:
            headings.append(len(lines))
            lines += cached(("layer", layer.id), lambda out, layer=layer: out.append(
                f"{safe_inline(layer.name)} ({layer.kind})\n", layer_style))
            if layer.kind == "span":
                for label in layer.labels:
                    n = sum(1 for s in spans
                            if s["layer"] == layer.id and s["label"] == label.id)
                    lines += cached(("span", layer.id, label.id, n),
                                    lambda out, layer=layer, label=label, n=n: _span_label(
                                        out, layer, label, n, looks, key_style, on_style,
                                        width))
                continue
            value = labels.get(layer.id)
            multi = layer.kind == "multi"
            for label in layer.labels:
                on = label.id in (value or []) if multi else value == label.id
                lines += cached(("label", layer.id, label.id, on),
                                lambda out, label=label, on=on, multi=multi: _label(
                                    out, label, on, multi, key_style, on_style, width))
        out = Text(no_wrap=True, overflow="ellipsis")  # the rest: the unit's own
        rows = len(lines)  # lines in `out` start here
        orphans = _not_in_schema(schema, labels)
        if orphans:
            # Kept from before the schema changed: shown, never dropped.
            headings.append(rows)
            out.append("Not in the schema\n", layer_style)
            rows += 1
            for name in orphans:
                out.append(f"  ⚠ {safe_inline(name)}\n", on_style)
                rows += 1
        if spans or proposals:
            headings.append(rows)
            out.append("Spans\n", layer_style)
            rows += 1
        selected_line: int | None = None
        by_id = {s["id"]: s for s in spans}
        targets: dict[str, list[str]] = {}
        for rel in state.get("relations", []):
            targets.setdefault(rel["from"], []).append(rel["to"])
        for s in sorted(spans, key=lambda s: (s["start"], s["end"])):
            look = looks.get((s["layer"], s["label"]), SpanLook("?", 0))
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append("▸" if s["id"] == selected else " ")
            if s["id"] in moved:
                line.append("⚠")
            line.append(f"{safe_inline(s['id'])} {look.mark}", key_style)
            # Links first: the panel is narrow and the span text can be long.
            for to in targets.get(s["id"], []):
                line.append(f"→{safe_inline(to)}" if to in by_id else f"→{safe_inline(to)}?")
            line.append(f" “{snippet(s.get('text', ''))}”")
            for value in s.get("attributes", {}).values():
                line.append(f" {safe_inline(str(value))}")
            if s["id"] == selected:
                line.stylize(sel_style)
                selected_line = rows
            out.append_text(line)
            out.append("\n")
            rows += 1
        prop_style = style("labels-panel--proposal")
        for pid, _start, _end, text in proposals:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append("▸" if pid == selected else " ")
            line.append("?  ", key_style)
            line.append(f"“{snippet(text)}” a/x", prop_style)
            if pid == selected:
                line.stylize(sel_style)
                selected_line = rows
            out.append_text(line)
            out.append("\n")
            rows += 1
        if proposal_count > len(proposals):
            out.append(f"   {proposal_count:,} proposed quotes in all\n", prop_style)
        if out or not lines:
            lines += [clean_line(line) for line in out.split("\n")]
        self._headings = tuple(headings)
        self.show_lines(lines)
        if selected_line is not None and self.parent is not None:
            # Spans are listed below the labels: keep the selected one in view, below
            # the sticky heading (the row above it is in view too).
            self.parent.scroll_to_region(Region(0, max(0, selected_line - 1), 1, 2),
                                         animate=False)


def _label(out: Text, label: Label, on: bool, multi: bool, key_style: Any,
           on_style: Any, width: int) -> None:
    """A paragraph label's lines: its key, its box, its name wrapped."""
    box = ("[x]" if on else "[ ]") if multi else ("(•)" if on else "( )")
    key = f" {_key(label)} "
    out.append(key, key_style)
    _name_lines(out, f"{box} ", safe_inline(label.name), cell_len(key), width,
                on_style if on else "")


def _span_label(out: Text, layer: Layer, label: Label, n: int,
                looks: dict[tuple[str, str], SpanLook], key_style: Any, on_style: Any,
                width: int) -> None:
    """A span label's lines: its key, its mark, its name and how many spans it has."""
    key = f" {_key(label)} "
    out.append(key, key_style)
    mark = looks[(layer.id, label.id)].mark
    # The span mark is shown only when it is not the hotkey already shown.
    shown = "" if mark == _key(label) else f"{mark}: "
    _name_lines(out, shown, safe_inline(label.name) + (f" ({n})" if n else ""),
                cell_len(key), width, on_style if n else "")


def _name_lines(out: Text, head: str, name: str, indent: int, width: int,
                style: Any) -> None:
    """`head` + `name`, the name wrapped to the panel's width, its further lines
    hanging under its first word."""
    hang = indent + cell_len(head)
    lines = wrap_words(name, width - hang if width > 0 else 0)
    out.append(f"{head}{lines[0]}\n", style)
    for line in lines[1:]:
        out.append(" " * hang)
        out.append(f"{line}\n", style)


def _not_in_schema(schema: LabelSchema, labels: dict) -> list[str]:
    """'layer/label' of stored paragraph labels the schema no longer has."""
    out = []
    for layer_id, value in labels.items():
        layer = schema.layer(layer_id)
        for label in value if isinstance(value, list) else [value] if value else []:
            if layer is None or layer.label(label) is None:
                out.append(f"{layer_id}/{label}")
    return out
