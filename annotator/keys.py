"""The default key map: action id -> keys. Shared by the TUI (bindings) and by schema
validation (label hotkeys must not collide with these)."""

from __future__ import annotations

from typing import Any

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


# -- a user's keymap ----------------------------------------------------------------------
# `keys:` in annotator.yaml, or ~/.config/annotator/keys.yaml: binding id -> key(s), as
# "k", "k,up" or a list. Binding ids: the screen's actions (DEFAULT_KEYS),
# "label.LAYER.LABEL" for a label's hotkey, "attribute.ID" for an attribute's.

USER_KEYMAP = "~/.config/annotator/keys.yaml"


def parse_keymap(data: object) -> tuple[dict[str, tuple[str, ...]], list[tuple[object, str]]]:
    """(binding id -> Textual key names, [(id or None, problem)]) of a keymap mapping."""
    out: dict[str, tuple[str, ...]] = {}
    problems: list[tuple[object, str]] = []
    if not isinstance(data, dict):
        return out, [(None, "'keys' must be a mapping of binding id to key(s)")]
    for binding, value in data.items():
        keys = value.split(",") if isinstance(value, str) else value
        if not isinstance(binding, str) or not isinstance(keys, list) or not keys or not all(
                isinstance(k, str) and k.strip() for k in keys):
            problems.append((binding, f"{binding!r}: give a key, keys separated by commas, "
                                      "or a list of keys"))
            continue
        out[binding] = tuple(key_name(k.strip()) for k in keys)
    return out, problems


def keymap_problems(keymap: dict[str, tuple[str, ...]], schema: object
                    ) -> list[tuple[str, str]]:
    """[(binding id, problem)]: ids that name nothing, and keys two bindings would share
    once the keymap applies (the screen's keys, the schema's label and attribute
    hotkeys)."""
    from difflib import get_close_matches

    bindings: dict[str, tuple[str, ...]] = dict(DEFAULT_KEYS)
    for layer in getattr(schema, "layers", ()):
        for label in layer.labels:
            bindings[f"label.{layer.id}.{label.id}"] = (label.key,) if label.key else ()
            for att in label.attributes:
                if att.key:
                    bindings[f"attribute.{att.id}"] = (att.key,)
    problems: list[tuple[str, str]] = []
    for binding in keymap:
        if binding not in bindings:
            close = get_close_matches(binding, list(bindings), n=1, cutoff=0.6)
            problems.append((binding, f"no binding {binding!r}" + (
                f": did you mean {close[0]!r}?" if close else
                " (action ids are listed in `annotator annotate`'s help, ?)")))
    effective = {**bindings, **{b: k for b, k in keymap.items() if b in bindings}}
    users: dict[str, list[str]] = {}
    for binding, keys in effective.items():
        for key in keys:
            users.setdefault(key, []).append(binding)
    for key, ids in users.items():
        if len(ids) > 1:
            mine = [b for b in ids if b in keymap] or ids[:1]
            for binding in mine:
                others = ", ".join(repr(b) for b in ids if b != binding)
                problems.append((binding, f"{binding!r}: key '{display_key(key)}' is also "
                                          f"bound to {others}"))
    return problems


def schema_with_keys(schema: Any, keymap: dict[str, tuple[str, ...]]) -> Any:
    """The schema with the label and attribute hotkeys the keymap gives (the first key
    of each): the labels panel, help and bindings then all show and take them."""
    from dataclasses import replace

    if not any(b.startswith(("label.", "attribute.")) for b in keymap):
        return schema
    layers = []
    for layer in schema.layers:
        labels = []
        for label in layer.labels:
            atts = tuple(replace(att, key=keymap[f"attribute.{att.id}"][0])
                         if f"attribute.{att.id}" in keymap else att
                         for att in label.attributes)
            key = keymap.get(f"label.{layer.id}.{label.id}")
            labels.append(replace(label, key=key[0] if key else label.key, attributes=atts))
        layers.append(replace(layer, labels=tuple(labels)))
    return replace(schema, layers=tuple(layers))


def action_keys(keymap: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The screen's actions with the keymap's keys (for help, and Textual's keymap)."""
    return {action: keymap.get(action, keys) for action, keys in DEFAULT_KEYS.items()}
