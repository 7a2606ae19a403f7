"""Modal dialogs: note, search, go to (one Input each) and the help screen.

Escape closes them (escape is never a frequent action: over tmux, escape followed
quickly by a key arrives as alt+key). Texts are shown through `Text`, never markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from annotator.keys import DEFAULT_KEYS
from annotator.schema import LabelSchema
from annotator.textclean import safe_inline
from annotator.tui.bindings import key_help
from annotator.tui.text_view import TextView


class CleanInput(Input):
    """An Input that makes controls visible in text pasted into it too: Textual only
    filters typed keys, and a pasted C1 control or bidi override would otherwise be
    echoed to the terminal (and stored in a note)."""

    def insert(self, text: str, index: int) -> None:
        super().insert(safe_inline(text), index)

    def replace(self, text: str, start: int, end: int) -> None:
        super().replace(safe_inline(text), start, end)


class PromptDialog(ModalScreen[str | None]):
    """One line of input; dismisses with the text on enter, None on escape."""

    # Here, not in annotator.tcss: parsed when a dialog first opens, not before the
    # annotation screen's first frame.
    DEFAULT_CSS = """
    PromptDialog { align: center middle; }
    PromptDialog > .dialog {
        width: 70;
        max-width: 100%;
        height: auto;
        border: round $accent;
        padding: 0 1;
        background: $surface;
    }
    PromptDialog .dialog-title { text-style: bold; }
    PromptDialog .dialog-hint { color: $text-muted; }
    """

    BINDINGS = [Binding("escape", "cancel", "cancel", id="dialog_cancel")]

    def __init__(self, title: str, value: str = "", hint: str = "",
                 *, id: str | None = None, replace: bool = False) -> None:
        """`replace`: the value starts selected, so typing replaces it (a search)."""
        super().__init__(id=id)
        self._title, self._value, self._hint = title, value, hint
        self._replace = replace

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self._title), classes="dialog-title")
            yield CleanInput(value=safe_inline(self._value), select_on_focus=self._replace)
            yield Static(Text(self._hint or "enter: ok   escape: cancel"),
                         classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


def note_dialog(note: str | None) -> PromptDialog:
    return PromptDialog("Note on this unit", note or "",
                        "enter: save (empty clears)   escape: cancel", id="note-dialog")


def search_dialog(last: str | None) -> PromptDialog:
    return PromptDialog("Search text", last or "",
                        "enter: next unit containing it; then n / N   escape: cancel",
                        id="search-dialog", replace=True)


def goto_dialog(example: str = "seed-004") -> PromptDialog:
    """`example`: a document id of the project (the one in focus), shown in the hint."""
    example = safe_inline(example)
    return PromptDialog("Go to document (id or number), optionally :unit", "",
                        f"e.g. 12   {example}   {example}:3   :5 (unit of this document)",
                        id="goto-dialog")


def help_text(schema: LabelSchema) -> Text:
    """The help as one Text (see `help_lines`)."""
    return Text("\n").join(help_lines(schema))


def help_lines(schema: LabelSchema, keys: dict[str, tuple[str, ...]] | None = None
               ) -> list[Text]:
    """Keys, then the schema's guidelines and every label with description and examples.
    Every string from the schema is made visible (`safe_inline`) before it is appended:
    Rich would silently drop some controls and pass others to the terminal."""
    c = safe_inline
    out = _Lines()
    out.append("Keys\n", "bold")
    for keys_, description in key_help(keys if keys is not None else DEFAULT_KEYS):
        out.append(f"  {keys_:<22}", "bold")
        out.append(f"{description}\n")
    out.append("\n")
    out.append(f"{c(schema.title)}\n", "bold")
    if schema.guidelines:
        out.append(" ".join(c(schema.guidelines).split()) + "\n")
    for layer in schema.layers:
        out.append(f"\n{c(layer.name)} ({layer.kind})\n", "bold underline")
        if layer.description:
            out.append(" ".join(c(layer.description).split()) + "\n")
        for label in layer.labels:
            key = f"[{c(label.key)}] " if label.key else ""
            out.append(f"\n  {key}{c(label.name)}", "bold")
            out.append(f"  ({c(label.id)})\n")
            if label.description:
                out.append("    " + " ".join(c(label.description).split()) + "\n")
            for example in label.examples:
                out.append("    e.g. ", "italic")
                out.append(f"{c(example)}\n")
            for att in label.attributes:
                out.append(f"    {c(att.name)}: {' / '.join(c(v) for v in att.values)}"
                           f"{f' (key {c(att.key)})' if att.key else ' (key t)'}\n")
        for rel in layer.relations:
            out.append(f"\n  {c(rel.name)}: {', '.join(c(x) for x in rel.sources)} → "
                       f"{', '.join(c(x) for x in rel.targets)}"
                       " (r on a span, tab to choose, enter)\n")
    return out.lines


def old_text_lines(old: str | None, now: str, moved: list[dict],
                   width: int = 100) -> list[Text]:
    """What a stale unit's annotation was made on: its text then (`old`; "" if not
    kept), its text now, and the spans whose text is no longer at their offsets."""
    import textwrap

    out = _Lines()
    out.append("⚠ This unit's text changed since it was annotated (a re-import)\n",
               "bold")
    out.append("Offsets of the annotation refer to the text then; labels are kept as "
               "they were. Check them and correct what no longer fits.\n")
    for title, text in (("Text then", old), ("Text now", now)):
        out.append(f"\n{title}\n", "bold underline")
        if text is None:
            out.append("  (the same as now)\n" if title == "Text then" else "")
        elif not text:
            out.append("  (not kept by the store)\n")
        else:
            for line in textwrap.wrap(safe_inline(text), width) or [""]:
                out.append(f"  {line}\n")
    if moved:
        out.append("\nSpans no longer at their place\n", "bold underline")
        for sp in moved:
            out.append(f"  {safe_inline(sp['id'])} {safe_inline(sp['label'])} "
                       f"[{sp['start']},{sp['end']}) “{safe_inline(sp.get('text', ''))}”\n")
    out.append("\nescape: close\n")
    return out.lines


class _Lines:
    """Builds a list of one-line Texts with `append(text, style)` as on a Text: the
    help of a 10,000-label schema is 40,000 lines, and one Text split that often is
    slow."""

    def __init__(self) -> None:
        self.lines: list[Text] = [Text()]

    def append(self, text: str, style: str = "") -> None:
        for i, part in enumerate(text.split("\n")):
            if i:
                self.lines.append(Text())
            if part:
                self.lines[-1].append(part, style)


class HelpScreen(ModalScreen[None]):
    """Scrollable: j/k, up/down, page keys, home/end; escape, q or ? close."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen #help-text {
        width: 100%;
        max-width: 110;
        height: 100%;
        border: round $accent;
        padding: 0 1;
        background: $surface;
    }
    """

    BINDINGS = [Binding("escape,q,question_mark", "close", "close", id="help_close")]

    def __init__(self, schema: LabelSchema, lines: list[Text] | None = None) -> None:
        """`lines`: `help_lines(schema)` if the caller keeps them between openings."""
        super().__init__(id="help")
        self._lines = lines if lines is not None else help_lines(schema)

    def compose(self) -> ComposeResult:
        yield TextView(self._lines, id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help-text").focus()

    def action_close(self) -> None:
        self.dismiss(None)
