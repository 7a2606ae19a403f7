"""The default key map: action id -> keys. Shared by the TUI (bindings) and by schema
validation (label hotkeys must not collide with these)."""

from __future__ import annotations

# Keys of the annotation screen (PRODUCT.md "The annotation screen"). Action ids are
# stable so users can remap them later; the TUI builds its BINDINGS from this table.
DEFAULT_KEYS: dict[str, tuple[str, ...]] = {
    "next_unit": ("j", "down"),  # in span mode: the cursor one row down
    "prev_unit": ("k", "up"),
    "next_doc": ("right_square_bracket",),
    "prev_doc": ("left_square_bracket",),
    "mark_done": ("enter",),
    "skip": ("minus",),  # not content (a scrape leftover); again clears it
    "span_mode": ("v",),
    "undo": ("u",),
    "redo": ("ctrl+r",),
    "note": ("m",),
    "flag": ("f",),
    "search": ("slash",),
    "search_next": ("n",),
    "search_prev": ("N",),
    "goto": ("g",),
    "help": ("question_mark",),
    "quit": ("q",),
    # spans and quote attribution
    "next_span": ("tab",),
    "prev_span": ("shift+tab",),
    "delete_span": ("x",),
    "accept_proposal": ("a",),
    "link_span": ("r",),
    "cycle_attribute": ("t",),
    "cancel": ("escape",),
    # movement inside span mode
    "word_forward": ("w",),
    "word_back": ("b",),
    "extend_word_forward": ("W",),
    "extend_word_back": ("B",),
    "char_forward": ("right", "l"),
    "char_back": ("left", "h"),
    "extend_forward": ("shift+right", "L"),
    "extend_back": ("shift+left", "H"),
    "extend_line_down": ("shift+down",),
    "extend_line_up": ("shift+up",),
    "line_start": ("home", "0"),
    "line_end": ("end", "dollar_sign"),
    # the labels panel, when a large schema (or a long span list) does not fit
    "labels_down": ("pagedown",),
    "labels_up": ("pageup",),
    "old_text": ("ctrl+o",),  # a stale unit: the text it had when annotated
}

# Textual key names for printable characters, so a schema may write `key: "["`.
_CHAR_NAMES = {
    "[": "left_square_bracket",
    "]": "right_square_bracket",
    "/": "slash",
    "?": "question_mark",
    "$": "dollar_sign",
    " ": "space",
    "-": "minus",
}


def key_name(key: str) -> str:
    """Normalise a key as written in a schema to Textual's key name."""
    return _CHAR_NAMES.get(key, key)


RESERVED_KEYS: frozenset[str] = frozenset(k for keys in DEFAULT_KEYS.values() for k in keys)


_NAME_CHARS = {name: char for char, name in _CHAR_NAMES.items()}


def display_key(key: str) -> str:
    """The key as a user types it (for help and the footer)."""
    return _NAME_CHARS.get(key, key)
