"""Annotation actions: pure functions from a unit's state to its next state.

A keypress in the TUI becomes an action dict; `Journal.apply` stores it as an event
together with the state before and after (see store/sqlite.py). Nothing here does I/O.

Unit state (the annotation part of an export record):
    {"status": "done" | None, "labels": {layer: [ids] | id | None},
     "spans": [{"id", "layer", "label", "start", "end", "text", "attributes"}],
     "relations": [{"label", "from", "to"}], "note": str | None, "flag": bool,
     "rejected": [[start, end]],  # proposed quotes turned down (optional key)
     "rejected_sources": [[start, end]]}  # proposed sources turned down (optional)
"""

from __future__ import annotations

import copy
from typing import Any

from annotator.schema import LabelSchema


class ActionError(ValueError):
    """An action that does not fit the unit or the schema (a bug in the caller)."""


def empty_state() -> dict[str, Any]:
    return {"status": None, "labels": {}, "spans": [], "relations": [], "note": None,
            "flag": False}


def _next_span_id(spans: list[dict]) -> str:
    used = [int(s["id"][1:]) for s in spans if s["id"][1:].isdigit()]
    return f"s{max(used, default=0) + 1}"


def _span(state: dict, span_id: str) -> dict:
    for s in state["spans"]:
        if s["id"] == span_id:
            return s
    raise ActionError(f"no span {span_id!r} on this unit")


def apply_action(state: dict | None, action: dict, schema: LabelSchema | None = None,
                 text: str | None = None) -> dict:
    """The state after `action`. `text` is the unit's text (span actions need it)."""
    new = copy.deepcopy(state) if state else empty_state()
    kind = action["type"]
    if kind == "mark_done":
        new["status"] = "done"
    elif kind == "toggle_label":
        layer_id, label = action["layer"], action["label"]
        layer = schema.layer(layer_id) if schema else None
        if layer is not None and layer.kind == "span":
            raise ActionError(f"layer {layer_id!r} is a span layer")
        if layer is not None and layer.label(label) is None:
            raise ActionError(f"no label {label!r} in layer {layer_id!r}")
        if layer is not None and layer.kind == "single" or action.get("single"):
            new["labels"][layer_id] = None if new["labels"].get(layer_id) == label else label
        else:
            on = list(new["labels"].get(layer_id) or [])
            if label in on:
                on.remove(label)
            else:
                on.append(label)
            new["labels"][layer_id] = on
        new["status"] = "done"
    elif kind == "add_span":
        start, end = int(action["start"]), int(action["end"])
        if text is not None and not (0 <= start < end <= len(text)):
            raise ActionError(f"span [{start}, {end}) outside the unit (length {len(text)})")
        span = {"id": _next_span_id(new["spans"]), "layer": action["layer"],
                "label": action["label"], "start": start, "end": end,
                "text": text[start:end] if text is not None else action.get("text", ""),
                "attributes": dict(action.get("attributes") or {})}
        new["spans"].append(span)
        new["status"] = "done"
    elif kind == "delete_span":
        sid = action["span"]
        _span(new, sid)
        new["spans"] = [s for s in new["spans"] if s["id"] != sid]
        new["relations"] = [r for r in new["relations"] if sid not in (r["from"], r["to"])]
    elif kind == "relabel_span":
        span = _span(new, action["span"])
        span["label"] = action["label"]
        new["status"] = "done"
    elif kind == "set_attribute":
        span = _span(new, action["span"])
        if action.get("value") is None:
            span["attributes"].pop(action["attribute"], None)
        else:
            span["attributes"][action["attribute"]] = action["value"]
    elif kind == "add_relation":
        _span(new, action["from"])
        _span(new, action["to"])
        rel = {"label": action["label"], "from": action["from"], "to": action["to"]}
        if rel not in new["relations"]:
            # One source per quote and relation label: re-linking replaces.
            new["relations"] = [r for r in new["relations"]
                                if not (r["label"] == rel["label"] and r["from"] == rel["from"])]
            new["relations"].append(rel)
        new["status"] = "done"
    elif kind == "delete_relation":
        new["relations"] = [r for r in new["relations"]
                            if not (r["label"] == action["label"] and r["from"] == action["from"]
                                    and r["to"] == action["to"])]
    elif kind == "reject_proposal":
        # A proposed quote (or, with kind "source", a proposed speaker) the annotator
        # turned down: remembered so it is not proposed again (also after a restart),
        # kept in the journal's audit trail; it does not mark the unit done.
        pair = [int(action["start"]), int(action["end"])]
        key = "rejected_sources" if action.get("kind") == "source" else "rejected"
        rejected = new.setdefault(key, [])
        if pair not in rejected:
            rejected.append(pair)
    elif kind == "set_note":
        note = action.get("note")
        new["note"] = note if note else None
    elif kind == "set_flag":
        new["flag"] = bool(action["flag"])
    else:
        raise ActionError(f"unknown action {kind!r}")
    return new
