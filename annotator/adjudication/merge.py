"""Comparing annotators' versions of a unit, and merging them into gold.

A *version* is one annotator's state of a unit (actions.py), counted only when they
marked the unit done: any other status (not yet seen, `skipped`) carries no labels.
Versions are compared per layer: a paragraph layer by its labels (a set for `multi`,
one label or none for `single`), a span layer by its spans (layer, label, start, end,
attributes) and the relations among them (by their spans' positions, not ids).

Merge strategies (`--auto`):
- `unanimous`: every annotator who did the unit (two or more) has the same version of
  every layer.
- `majority`: for every layer, one version is held by more than half of the unit's
  annotators (so with two annotators it is the same as unanimous).
- `none`: nothing is merged automatically.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from annotator.schema import LabelSchema, Layer

STRATEGIES = ("unanimous", "majority", "none")


def is_done(state: dict | None) -> bool:
    return bool(state) and state.get("status") == "done"


def span_key(span: dict) -> tuple:
    attrs = tuple(sorted((str(k), str(v)) for k, v in (span.get("attributes") or {}).items()))
    return (span["layer"], span["label"], int(span["start"]), int(span["end"]), attrs)


def layer_value(state: dict, layer: Layer) -> Any:
    """A hashable value of the layer in `state`: equal exactly when two annotators
    made the same decisions on it."""
    if layer.kind == "span":
        spans = [s for s in state.get("spans") or () if s.get("layer") == layer.id]
        keys = {s["id"]: span_key(s) for s in spans}
        rels = frozenset((r["label"], keys[r["from"]], keys[r["to"]])
                         for r in state.get("relations") or ()
                         if r.get("from") in keys and r.get("to") in keys)
        return (tuple(sorted(keys.values())), rels)
    value = (state.get("labels") or {}).get(layer.id)
    if layer.kind == "multi":
        return frozenset(value if isinstance(value, list) else [value] if value else [])
    if isinstance(value, list):  # stored as a list by an older schema: same decision
        value = value[0] if value else None
    return value


def versions_of(states: Mapping[str, dict | None]) -> dict[str, dict]:
    """The done versions among annotators' states ({name: state}), by name."""
    return {name: s for name, s in sorted(states.items()) if is_done(s)}


def disagreements(versions: Mapping[str, dict], schema: LabelSchema) -> list[str]:
    """Layers on which the unit's annotators (two or more) do not all agree."""
    if len(versions) < 2:
        return []
    out = []
    for layer in schema.layers:
        values = {layer_value(s, layer) for s in versions.values()}
        if len(values) > 1:
            out.append(layer.id)
    return out


@dataclass(frozen=True)
class Sided:
    decided_by: list[str]  # annotators whose whole unit equals the gold
    by_layer: dict[str, list[str]]  # per layer: annotators whose version equals the gold
    overrode: bool  # the gold equals no annotator's unit


def sided_with(gold: dict, versions: Mapping[str, dict], schema: LabelSchema) -> Sided:
    by_layer: dict[str, list[str]] = {}
    for layer in schema.layers:
        value = layer_value(gold, layer)
        by_layer[layer.id] = [n for n, s in versions.items() if layer_value(s, layer) == value]
    whole = [n for n in versions if all(n in names for names in by_layer.values())]
    return Sided(whole, by_layer, bool(versions) and not whole)


def decision_fields(gold: dict, versions: Mapping[str, dict], schema: LabelSchema,
                    auto: str | None = None, curator: str | None = None) -> dict:
    """The fields a gold action carries about what it sided with (see actions.py)."""
    s = sided_with(gold, versions, schema)
    out: dict[str, Any] = {"decided_by": s.decided_by, "decided_by_layer": s.by_layer,
                           "overrode": s.overrode, "auto": auto}
    if curator:
        out["curator"] = curator
    return out


def layer_spans(state: dict, layer_id: str) -> tuple[list[dict], list[dict]]:
    """The state's spans of one layer and the relations among them."""
    spans = [s for s in state.get("spans") or () if s.get("layer") == layer_id]
    ids = {s["id"] for s in spans}
    rels = [r for r in state.get("relations") or () if r["from"] in ids and r["to"] in ids]
    return spans, rels


def _layer_part(state: dict, layer_id: str) -> tuple[list[dict], list[dict]]:
    """The layer's spans and relations, ids prefixed by the layer: unique across layers
    taken from different annotators (the gold gives them fresh ids anyway)."""
    sp, rel = layer_spans(state, layer_id)
    return ([{**x, "id": f"{layer_id}/{x['id']}"} for x in sp],
            [{**r, "from": f"{layer_id}/{r['from']}", "to": f"{layer_id}/{r['to']}"}
             for r in rel])


def merged(versions: Mapping[str, dict], schema: LabelSchema, strategy: str
           ) -> tuple[dict, dict[str, list[str]]] | None:
    """(the `set_gold` action's labels/spans/relations, holders per layer) when the
    strategy decides every layer of the unit, else None."""
    if strategy == "none" or len(versions) < 2:
        return None
    n = len(versions)
    labels: dict[str, Any] = {}
    spans: list[dict] = []
    relations: list[dict] = []
    holders: dict[str, list[str]] = {}
    for layer in schema.layers:
        groups: dict[Any, list[str]] = {}
        for name, s in versions.items():
            groups.setdefault(layer_value(s, layer), []).append(name)
        best = max(groups.values(), key=len)
        if (strategy == "unanimous" and len(groups) > 1) or 2 * len(best) <= n:
            return None
        rep = versions[best[0]]
        holders[layer.id] = best
        if layer.kind == "span":
            sp, rel = _layer_part(rep, layer.id)
            spans += sp
            relations += rel
        else:
            labels[layer.id] = gold_value(layer, layer_value(rep, layer))
    return {"labels": labels, "spans": spans, "relations": relations}, holders


def gold_value(layer: Layer, value: Any) -> Any:
    """A paragraph layer's value as stored: a list in schema order for `multi`
    (labels the schema lacks after, sorted), a label or None for `single`."""
    if layer.kind != "multi":
        return value
    known = [lab.id for lab in layer.labels if lab.id in value]
    return known + sorted(v for v in value if layer.label(v) is None)


def agreed_part(versions: Mapping[str, dict], schema: LabelSchema) -> dict:
    """The layers every annotator of the unit agrees on, as a gold start
    ({labels, spans, relations}): what the screen shows as gold before any decision,
    and what a unit's first decision starts from. One annotator: their version."""
    labels: dict[str, Any] = {}
    spans: list[dict] = []
    relations: list[dict] = []
    for layer in schema.layers:
        values = {layer_value(s, layer) for s in versions.values()}
        if len(values) != 1:
            continue
        rep = next(iter(versions.values()))
        if layer.kind == "span":
            sp, rel = _layer_part(rep, layer.id)
            spans += sp
            relations += rel
        else:
            labels[layer.id] = gold_value(layer, values.pop())
    return {"labels": labels, "spans": spans, "relations": relations}
