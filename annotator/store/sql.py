"""What every SQL store derives the same way, whatever the database: the paragraph
labels of a state (the agreement fast path's index), unit keys as numpy arrays, and
the replay check of a journal (`annotator status --check`).

The PostgreSQL store uses these; the SQLite store keeps its own copies for now (it is
being changed in parallel) and is meant to move onto them (docs/store.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from annotator.actions import apply_action

if TYPE_CHECKING:
    import numpy as np


def state_labels(state: dict | None) -> Iterator[tuple[str, str]]:
    """(layer, label) of each paragraph label in a state: a multi layer holds a list,
    a single layer one id (or nothing)."""
    for layer, value in ((state or {}).get("labels") or {}).items():
        yield from ((layer, label) for label in
                    (value if isinstance(value, list) else [value] if value else []))


def int_array(csv: str | None) -> np.ndarray:
    """Comma-separated integers (an SQL string_agg / group_concat) as an int64 array:
    parsed in C, no Python object per number."""
    import numpy as np

    if not csv:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(csv, dtype=np.int64, sep=",")


def iso(ts: datetime | str) -> str:
    """A timestamp as the stores hand it over: UTC, ISO 8601, microseconds, Z."""
    if isinstance(ts, str):
        return ts
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _textless(state: dict | None) -> dict | None:
    if not state:
        return state
    return {**state, "spans": [{k: v for k, v in sp.items() if k != "text"}
                               for sp in state.get("spans", [])]}


def replay_problems(events: Iterable[tuple[int, str, int, str, dict, dict | None,
                                           dict | None]],
                    stored: dict[tuple[str, int], dict],
                    unit_text: Callable[[str, int], str | None]) -> list[str]:
    """Replay a journal's events (seq, doc_id, unit, kind, action, before, after) in
    order and compare with the stored states. Returns the problems found."""
    problems: list[str] = []
    replayed: dict[tuple[str, int], dict | None] = {}
    befores: dict[int, dict | None] = {}
    afters: dict[int, dict | None] = {}
    texts: dict[tuple[str, int], str | None] = {}
    for seq, doc_id, unit, kind, act, before, after in events:
        key = (doc_id, unit)
        current = replayed.get(key)
        if before != current:
            problems.append(f"event {seq}: its 'before' is not the state replayed so far")
        if kind in ("undo", "redo"):
            target = act["event"]
            expected = befores.get(target) if kind == "undo" else afters.get(target)
        else:
            if key not in texts:
                texts[key] = unit_text(doc_id, unit)
            if kind == "toggle_label" and not isinstance(
                    (after or {}).get("labels", {}).get(act.get("layer")), list):
                act = {**act, "single": True}  # replayed without the schema
            try:
                expected = apply_action(current, act, None, texts[key])
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"event {seq}: cannot be replayed ({exc})")
                expected = after
            if kind == "add_span" and _textless(expected) == _textless(after):
                expected = after  # span text from a paragraph since re-imported
        if expected != after:
            problems.append(f"event {seq} ({kind}): replaying it gives another state")
        befores[seq], afters[seq] = before, after
        replayed[key] = after
    for key in replayed.keys() | stored.keys():
        if replayed.get(key) != stored.get(key):
            problems.append(f"{key[0]} unit {key[1]}: the stored state differs from the "
                            "replayed events")
    return problems


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)
