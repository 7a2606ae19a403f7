"""Annotation actions: pure functions from a unit's state to its next state.

A keypress in the TUI becomes an action dict; `Journal.apply` stores it as an event
together with the state before and after (see store/sqlite.py). Nothing here does I/O.

Unit state (the annotation part of an export record):
    {"status": "done" | "skipped" | None, "labels": {layer: [ids] | id | None},
     "spans": [{"id", "layer", "label", "start", "end", "text", "attributes"}],
     "relations": [{"label", "from", "to"}], "note": str | None, "flag": bool,
     "rejected": [[start, end]],  # proposed quotes turned down (optional key)
     "status_before_skip": ...,  # while skipped (not content): the status to go back to
     "decided": [layer ids],  # paragraph layers decided; absent on a done unit: all
     "rejected_sources": [[start, end]]}  # proposed sources turned down (optional)

`import_state` sets a unit's whole state at once (an import from another tool's
format): {"type": "import_state", "state": {...}, "source": "file:line"}; `source` is
the audit trail of where it came from.
The gold journal (reserved name `gold`, see annotator/adjudication/) holds unit states
of the same shape plus what each decision sided with: `decided_by` (annotators whose
whole unit equals the gold), `decided_by_layer` ({layer: [names]}), `overrode` (true
when no annotator's unit equals it), `auto` ("unanimous" / "majority" when an
automatic merge filled it and nobody changed it since, else null) and `curator`.
Any action carrying `decided_by` sets these; the adjudication session computes them
before it applies the action, so a replay of the journal gives the same state.
Gold-only actions: `take_version` (a layer's value from an annotator), `accept_unit`,
`set_gold` (a whole unit, used by the automatic merge). A gold action on a unit
without gold may carry `gold_start` ({labels, spans, relations}: the layers its annotators
agree on), which the new state begins from.
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


STATUSES = ("done", "skipped", None)


def checked_state(state: object, schema: LabelSchema | None = None,
                  text: str | None = None) -> dict[str, Any]:
    """A whole unit state as `import_state` stores it, checked for shape (and against
    the schema and the unit's text when given). Raises ActionError naming what is wrong."""
    if not isinstance(state, dict):
        raise ActionError("the state must be an object")
    unknown = set(state) - {"status", "labels", "spans", "relations", "note", "flag",
                             "decided"}
    if unknown:
        raise ActionError(f"unknown state key(s): {', '.join(sorted(unknown))}")
    new = empty_state()
    # a copy one level down (labels, spans, relations): faster than deepcopy, and
    # nothing deeper is ever changed in place
    new.update(state)
    if isinstance(new["labels"], dict):
        new["labels"] = {k: list(v) if isinstance(v, list) else v
                         for k, v in new["labels"].items()}
    if isinstance(new["spans"], list):
        new["spans"] = [dict(sp, attributes=dict(sp.get("attributes") or {}))
                        if isinstance(sp, dict) else sp for sp in new["spans"]]
    if isinstance(new["relations"], list):
        new["relations"] = [dict(r) if isinstance(r, dict) else r for r in new["relations"]]
    if new["status"] not in STATUSES:
        raise ActionError(f"status {new['status']!r} is not done, skipped or null")
    labels = new["labels"]
    if not isinstance(labels, dict):
        raise ActionError("labels must be an object")
    for layer_id, value in labels.items():
        layer = schema.layer(layer_id) if schema else None
        if schema is not None and (layer is None or layer.kind == "span"):
            raise ActionError(f"no paragraph layer {layer_id!r}")
        if isinstance(value, list):
            if not all(isinstance(v, str) for v in value) or len(set(value)) != len(value):
                raise ActionError(f"labels of {layer_id!r} must be distinct label ids")
            if layer is not None and layer.kind == "single":
                raise ActionError(f"layer {layer_id!r} takes one label or null")
            given = value
        elif value is None or isinstance(value, str):
            if layer is not None and layer.kind == "multi":
                raise ActionError(f"layer {layer_id!r} takes a list of labels")
            given = [value] if value else []
        else:
            raise ActionError(f"labels of {layer_id!r} must be a list, a label id or null")
        for label in given:
            if layer is not None and layer.label(label) is None:
                raise ActionError(f"no label {label!r} in layer {layer_id!r}")
    spans = new["spans"]
    if not isinstance(spans, list):
        raise ActionError("spans must be a list")
    ids: set[str] = set()
    for sp in spans:
        if not isinstance(sp, dict) or not {"id", "layer", "label", "start", "end", "text"} <= set(sp):
            raise ActionError("a span needs id, layer, label, start, end and text")
        start, end = sp["start"], sp["end"]
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) \
                or isinstance(end, bool) or not 0 <= start < end:
            raise ActionError(f"span {sp['id']!r}: offsets must be integers with 0 <= start < end")
        if sp["id"] in ids:
            raise ActionError(f"duplicate span id {sp['id']!r}")
        ids.add(sp["id"])
        if not isinstance(sp["attributes"], dict):
            raise ActionError(f"span {sp['id']!r}: attributes must be an object")
        if text is not None:
            if end > len(text):
                raise ActionError(f"span {sp['id']!r} [{start}, {end}) outside the unit "
                                  f"(length {len(text)})")
            if text[start:end] != sp["text"]:
                raise ActionError(f"span {sp['id']!r}: its text is not the unit's text there")
        if schema is not None:
            layer = schema.layer(sp["layer"])
            if layer is None or layer.kind != "span" or layer.label(sp["label"]) is None:
                raise ActionError(f"span {sp['id']!r}: no span label {sp['label']!r} in layer "
                                  f"{sp['layer']!r}")
    relations = new["relations"]
    if not isinstance(relations, list):
        raise ActionError("relations must be a list")
    for rel in relations:
        if not isinstance(rel, dict) or set(rel) != {"label", "from", "to"}:
            raise ActionError("a relation has exactly label, from and to")
        if rel["from"] not in ids or rel["to"] not in ids:
            raise ActionError(f"relation {rel['label']!r} links a span that is not there")
    if new["note"] is not None and not isinstance(new["note"], str):
        raise ActionError("note must be a string or null")
    if not isinstance(new["flag"], bool):
        raise ActionError("flag must be true or false")
    return new


def _decide(state: dict, all_decided: bool, layer: str | None = None) -> None:
    """Record that the action decided `layer` (None: no paragraph layer, e.g. a span)."""
    if all_decided:
        return
    decided = state.setdefault("decided", [])
    if layer is not None and layer not in decided:
        decided.append(layer)


def apply_action(state: dict | None, action: dict, schema: LabelSchema | None = None,
                 text: str | None = None, *, owned: bool = False) -> dict:
    """The state after `action`. `text` is the unit's text (span actions need it).
    `owned`: `state` is the caller's to give up (a copy just parsed from JSON): it is
    changed in place and returned, instead of deep-copied first (a deepcopy is most of
    this function's time on a keypress, and three times a JSON parse)."""
    new = (state if owned else copy.deepcopy(state)) if state else empty_state()
    if not state and action.get("gold_start"):
        # A unit's first gold decision starts from what its annotators agree on.
        start = action["gold_start"]
        new["labels"] = {k: list(v) if isinstance(v, list) else v
                         for k, v in (start.get("labels") or {}).items()}
        _put_spans(new, start.get("spans") or [], start.get("relations") or [])
    kind = action["type"]
    # A unit done without a "decided" list has every paragraph layer decided (enter, or
    # a journal from before layers were tracked); see docs/agreement.md.
    all_decided = new.get("status") == "done" and "decided" not in new
    if kind == "mark_done":
        new["status"] = "done"
        new.pop("decided", None)  # enter decides every paragraph layer
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
        _decide(new, all_decided, layer_id)  # a label toggle decides its layer
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
        _decide(new, all_decided)
    elif kind == "delete_span":
        sid = action["span"]
        _span(new, sid)
        new["spans"] = [s for s in new["spans"] if s["id"] != sid]
        new["relations"] = [r for r in new["relations"] if sid not in (r["from"], r["to"])]
    elif kind == "relabel_span":
        span = _span(new, action["span"])
        span["label"] = action["label"]
        new["status"] = "done"
        _decide(new, all_decided)
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
        _decide(new, all_decided)
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
    elif kind == "import_state":
        # The whole state, replacing what was there (the event keeps the state before).
        new = checked_state(action["state"], schema, text)
    elif kind == "take_version":
        _take_version(new, action)
    elif kind == "accept_unit":
        new["status"] = "done"
    elif kind == "set_gold":
        # A whole unit at once (the automatic merge): labels, spans and relations.
        # copied by hand, not deepcopy: the merge writes a million of these
        new["labels"] = {k: list(v) if isinstance(v, list) else v
                         for k, v in (action.get("labels") or {}).items()}
        new["spans"], new["relations"] = [], []
        _put_spans(new, action.get("spans") or [], action.get("relations") or [])
        new["status"] = "done"
    elif kind == "set_skipped":
        # Not content (a scrape leftover): a decision of its own, status "skipped". The
        # status it had is kept, so clearing the mark gives back exactly that.
        if action["skipped"] and new.get("status") != "skipped":
            new["status_before_skip"] = new.get("status")
            new["status"] = "skipped"
        elif not action["skipped"] and new.get("status") == "skipped":
            new["status"] = new.pop("status_before_skip", None)
    else:
        raise ActionError(f"unknown action {kind!r}")
    if new.get("status") != "skipped":
        # A label or a span on a skipped unit makes it content again (status "done").
        new.pop("status_before_skip", None)
    if "decided_by" in action:
        new["decided_by"] = list(action["decided_by"])
        new["decided_by_layer"] = dict(action.get("decided_by_layer") or {})
        new["overrode"] = bool(action.get("overrode"))
        new["auto"] = action.get("auto")
        if action.get("curator"):
            new["curator"] = action["curator"]
    return new


def _put_spans(state: dict, spans: list[dict], relations: list[dict]) -> None:
    """Add copies of `spans` (new ids, after the state's own) and the `relations`
    among them (given by the copied spans' old ids)."""
    ids: dict[str, str] = {}
    for sp in spans:
        sid = _next_span_id(state["spans"])
        ids[sp["id"]] = sid
        state["spans"].append({"id": sid, "layer": sp["layer"], "label": sp["label"],
                               "start": int(sp["start"]), "end": int(sp["end"]),
                               "text": sp.get("text", ""),
                               "attributes": dict(sp.get("attributes") or {})})
    for r in relations:
        if r["from"] in ids and r["to"] in ids:
            rel = {"label": r["label"], "from": ids[r["from"]], "to": ids[r["to"]]}
            if rel not in state["relations"]:
                state["relations"].append(rel)


def _take_version(state: dict, action: dict) -> None:
    """The layer's value becomes the one given (an annotator's): for a paragraph layer
    its labels, for a span layer its spans and the relations among them."""
    layer = action["layer"]
    if action.get("span_layer"):
        gone = {s["id"] for s in state["spans"] if s["layer"] == layer}
        state["spans"] = [s for s in state["spans"] if s["layer"] != layer]
        state["relations"] = [r for r in state["relations"]
                              if r["from"] not in gone and r["to"] not in gone]
        _put_spans(state, [s for s in action.get("spans") or [] if s["layer"] == layer],
                   action.get("relations") or [])
    else:
        value = action.get("value")
        state["labels"][layer] = list(value) if isinstance(value, list) else value
    state["status"] = "done"
