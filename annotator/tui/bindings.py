"""Bindings of the annotation screen, built from `annotator.keys.DEFAULT_KEYS`.

Each Binding carries `id=` the action id, so a user keymap (`App.set_keymap`) can
remap any of them without touching code; the action ids are stable.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.binding import Binding

from annotator.keys import DEFAULT_KEYS, display_key

# action id -> (description, shown in the footer). The footer holds the keys an
# annotator needs every minute; everything else is in help (?).
ACTION_INFO: dict[str, tuple[str, bool]] = {
    "next_unit": ("next (span mode: row down)", True),
    "prev_unit": ("prev (span mode: row up)", True),
    "next_doc": ("next document", False),
    "prev_doc": ("previous document", False),
    "mark_done": ("done", True),
    "skip": ("not content (again: clear)", False),
    "span_mode": ("span", True),
    "undo": ("undo", True),
    "redo": ("redo", False),
    "note": ("note", True),
    "flag": ("flag", True),
    "search": ("search", True),
    "search_next": ("next match", False),
    "search_prev": ("previous match", False),
    "goto": ("go to", True),
    "help": ("help", True),
    "quit": ("quit", True),
    "next_span": ("select next span / proposal", False),
    "prev_span": ("select previous span / proposal", False),
    "delete_span": ("delete span / reject proposal", False),
    "accept_proposal": ("accept proposed quote", False),
    "link_span": ("link quote to its source", False),
    "cycle_attribute": ("cycle the span's attribute", False),
    "cancel": ("cancel span / link mode", False),
    "word_forward": ("cursor to next word", False),
    "word_back": ("cursor to previous word", False),
    "extend_word_forward": ("extend span to word end", False),
    "extend_word_back": ("extend span to previous word", False),
    "char_forward": ("cursor right", False),
    "char_back": ("cursor left", False),
    "extend_forward": ("extend span right", False),
    "extend_back": ("extend span left", False),
    "extend_line_down": ("extend span one row down", False),
    "extend_line_up": ("extend span one row up", False),
    "line_start": ("cursor to row start", False),
    "line_end": ("cursor to row end", False),
    "labels_down": ("labels panel: page down", False),
    "labels_up": ("labels panel: page up", False),
    "old_text": ("text of a stale unit when annotated (⚠ stale)", False),
}


def build_bindings(keys: Mapping[str, tuple[str, ...]] = DEFAULT_KEYS) -> list[Binding]:
    """One Binding per action id; the action method is `action_<id>` on the screen."""
    out = []
    for action_id, action_keys in keys.items():
        description, show = ACTION_INFO.get(action_id, (action_id.replace("_", " "), False))
        # No key_display: the footer derives it from the (possibly remapped) key.
        out.append(Binding(",".join(action_keys), action_id, description, show=show,
                           id=action_id))
    return out


def key_help(keys: Mapping[str, tuple[str, ...]] = DEFAULT_KEYS) -> list[tuple[str, str]]:
    """(keys as typed, description) for the help screen."""
    return [(" ".join(display_key(k) for k in action_keys),
             ACTION_INFO.get(action_id, (action_id.replace("_", " "), False))[0])
            for action_id, action_keys in keys.items()]
