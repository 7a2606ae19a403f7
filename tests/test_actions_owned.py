"""`apply_action(..., owned=True)`: the state is changed in place instead of copied
(the journal passes a copy it has just parsed), with the same result."""

from __future__ import annotations

import copy
import json

from annotator.actions import apply_action

TEXT = "The minister said we will not bow, and left."
ACTIONS = [
    {"type": "toggle_label", "layer": "devices", "label": "a"},
    {"type": "toggle_label", "layer": "devices", "label": "b"},
    {"type": "add_span", "layer": "quotes", "label": "quote", "start": 18, "end": 33,
     "attributes": {"kind": "direct"}},
    {"type": "add_span", "layer": "quotes", "label": "source", "start": 4, "end": 12},
    {"type": "add_relation", "label": "said_by", "from": "s1", "to": "s2"},
    {"type": "set_attribute", "span": "s1", "attribute": "kind", "value": "indirect"},
    {"type": "toggle_label", "layer": "devices", "label": "a"},
    {"type": "set_flag", "flag": True},
    {"type": "set_note", "note": "check"},
    {"type": "delete_span", "span": "s2"},
    {"type": "mark_done"},
]


def test_owned_gives_the_same_states_and_copied_leaves_the_input_alone() -> None:
    state = None
    for action in ACTIONS:
        before = copy.deepcopy(state)
        copied = apply_action(state, action, None, TEXT)
        assert state == before  # not owned: the input is untouched
        parsed = json.loads(json.dumps(state)) if state else None
        owned = apply_action(parsed, action, None, TEXT, owned=True)
        assert owned == copied, action
        if parsed:
            assert owned is parsed  # changed in place, no copy
        state = copied
