"""The schema's labels with their hotkeys and which are on, plus the unit's spans.

Everything is built as `rich.text.Text` (label names and span texts come from
schemas and articles: never markup). On/off is a mark ([x], (•), ✓), not colour.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.geometry import Region

from annotator.keys import display_key
from annotator.schema import Label, LabelSchema, Layer
from annotator.textclean import safe_inline
from annotator.tui.info_bar import TextLines
from annotator.tui.unit_view import SPAN_STYLES

SNIPPET = 28  # characters of a span's text shown in the list


@dataclass(frozen=True)
class SpanLook:
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


class LabelsPanel(TextLines):
    """Rebuilt on every change of the unit's state (a few dozen lines of Text)."""

    COMPONENT_CLASSES = {
        "labels-panel--layer",
        "labels-panel--key",
        "labels-panel--on",
        "labels-panel--selected",
        "labels-panel--proposal",
    }

    def show(self, schema: LabelSchema, looks: dict[tuple[str, str], SpanLook],
             state: dict | None, proposals: list[tuple[str, int, int, str]],
             selected: str | None, proposal_count: int = 0) -> None:
        """`looks`: `span_looks(schema)`. `proposals`: (id, start, end, text) of some
        quotes proposed and not yet decided (near the selection), of `proposal_count` in
        all."""
        state = state or {}
        labels = state.get("labels", {})
        spans = state.get("spans", [])
        style = self.style_of
        layer_style = style("labels-panel--layer")
        key_style = style("labels-panel--key")
        on_style = style("labels-panel--on")
        sel_style = style("labels-panel--selected")
        out = Text(no_wrap=True, overflow="ellipsis")
        for layer in schema.layers:
            out.append(f"{safe_inline(layer.name)} ({layer.kind})\n", layer_style)
            if layer.kind == "span":
                self._span_layer(out, layer, spans, looks, key_style, on_style)
                continue
            value = labels.get(layer.id)
            for label in layer.labels:
                if layer.kind == "multi":
                    on = label.id in (value or [])
                    box = "[x]" if on else "[ ]"
                else:
                    on = value == label.id
                    box = "(•)" if on else "( )"
                out.append(f" {_key(label)} ", key_style)
                out.append(f"{box} {safe_inline(label.name)}\n", on_style if on else "")
        orphans = _not_in_schema(schema, labels)
        if orphans:
            # Kept from before the schema changed: shown, never dropped.
            out.append("Not in the schema\n", layer_style)
            for name in orphans:
                out.append(f"  ⚠ {safe_inline(name)}\n", on_style)
        if spans or proposals:
            out.append("Spans\n", layer_style)
        selected_line: int | None = None
        by_id = {s["id"]: s for s in spans}
        targets: dict[str, list[str]] = {}
        for rel in state.get("relations", []):
            targets.setdefault(rel["from"], []).append(rel["to"])
        for s in sorted(spans, key=lambda s: (s["start"], s["end"])):
            look = looks.get((s["layer"], s["label"]), SpanLook("?", 0))
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append("▸" if s["id"] == selected else " ")
            line.append(f"{safe_inline(s['id'])} {look.mark}", key_style)
            # Links first: the panel is narrow and the span text can be long.
            for to in targets.get(s["id"], []):
                line.append(f"→{safe_inline(to)}" if to in by_id else f"→{safe_inline(to)}?")
            line.append(f" “{snippet(s.get('text', ''))}”")
            for value in s.get("attributes", {}).values():
                line.append(f" {safe_inline(str(value))}")
            if s["id"] == selected:
                line.stylize(sel_style)
                selected_line = out.plain.count("\n")
            out.append_text(line)
            out.append("\n")
        prop_style = style("labels-panel--proposal")
        for pid, _start, _end, text in proposals:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append("▸" if pid == selected else " ")
            line.append("?  ", key_style)
            line.append(f"“{snippet(text)}” a/x", prop_style)
            if pid == selected:
                line.stylize(sel_style)
                selected_line = out.plain.count("\n")
            out.append_text(line)
            out.append("\n")
        if proposal_count > len(proposals):
            out.append(f"   {proposal_count:,} proposed quotes in all\n", prop_style)
        self.show_text(out)
        if selected_line is not None and self.parent is not None:
            # Spans are listed below the labels: keep the selected one in view.
            self.parent.scroll_to_region(Region(0, selected_line, 1, 1), animate=False)

    @staticmethod
    def _span_layer(out: Text, layer: Layer, spans: list[dict],
                    looks: dict[tuple[str, str], SpanLook], key_style, on_style) -> None:
        for label in layer.labels:
            n = sum(1 for s in spans if s["layer"] == layer.id and s["label"] == label.id)
            out.append(f" {_key(label)} ", key_style)
            mark = looks[(layer.id, label.id)].mark
            # The span mark is shown only when it is not the hotkey already shown.
            shown = "" if mark == _key(label) else f"{mark}: "
            out.append(f"{shown}{safe_inline(label.name)}" + (f" ({n})" if n else "") + "\n",
                       on_style if n else "")


def _not_in_schema(schema: LabelSchema, labels: dict) -> list[str]:
    """'layer/label' of stored paragraph labels the schema no longer has."""
    out = []
    for layer_id, value in labels.items():
        layer = schema.layer(layer_id)
        for label in value if isinstance(value, list) else [value] if value else []:
            if layer is None or layer.label(label) is None:
                out.append(f"{layer_id}/{label}")
    return out
