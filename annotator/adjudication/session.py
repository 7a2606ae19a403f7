"""What the adjudication screen asks for, on the core alone (no Textual): for a unit,
each annotator's done version, the layers they disagree on, the current gold; and
every gold action, with what it sided with, through the gold journal's `apply`.

Annotators are shown by name, or as A, B, C ... (`anonymous`), in a fixed order: the
store's sorted annotator names, so the same letter means the same annotator all
session (and the key 1..9 that takes their version).
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from annotator.actions import apply_action
from annotator.adjudication.merge import (
    agreed_part,
    decision_fields,
    disagreements,
    is_done,
    layer_spans,
    versions_of,
)
from annotator.errors import InputError
from annotator.records import record
from annotator.schema import LabelSchema
from annotator.store.base import GOLD, Change

if TYPE_CHECKING:
    import numpy as np

    from annotator.adjudication import auto

# numpy and the whole-corpus read (adjudication/auto.py) are imported when first needed:
# the screen's first paint comes before them (they cost a third of a second to import).


def open_session(store: Any, schema: LabelSchema, curator: str, auto: str = "unanimous",
                 anonymous: bool = False,
                 progress: Callable[[int, int | None], None] | None = None,
                 ) -> tuple[Session, int, int]:
    """`annotator adjudicate` up to its screen: the session (its gold journal held for
    this curator session alone), after the automatic merge with strategy `auto` when
    an annotator's journal changed since the last one. Returns (session, units
    pre-filled now, units left to decide by that merge)."""
    session = Session(store, schema, curator, anonymous=anonymous)
    if not session.names:
        raise InputError("no annotator has a journal here yet: nothing to adjudicate",
                         getattr(store, "path", ""))
    session.gold.claim()  # one curator session at a time: two would undo each other
    from annotator.adjudication.stamp import merge_stamp, up_to_date

    if auto == "none" or up_to_date(session.gold, merge_stamp(auto, session.journals, store)):
        return session, 0, 0
    from annotator.adjudication.auto import auto_merge

    result = auto_merge(store, schema, auto, curator=curator, progress=progress,
                        journals=session.journals)
    if result.scan is not None:
        session.scan(result.scan)  # the screen needs the same read: not twice
    return session, result.merged, result.disagreeing


@record
class Progress:
    decided: int  # units with gold
    left: int  # units with a version and no gold yet
    disagreeing: int  # units whose annotators disagree (decided or not)
    disagreeing_left: int  # of those, without gold yet


class Session:
    def __init__(self, store: Any, schema: LabelSchema, curator: str,
                 anonymous: bool = False) -> None:
        self.store, self.schema, self.curator = store, schema, curator
        self.anonymous = anonymous
        self.journals = store.reading_journals()
        self.names = [j.annotator for j in self.journals]
        self.gold = store.journal(GOLD, schema)
        self._labels = {n: (string.ascii_uppercase[i] if i < 26 else f"#{i + 1}")
                        if anonymous else n for i, n in enumerate(self.names)}
        self._scan: auto.Scan | None = None
        self._disagree_keys: np.ndarray | None = None
        self._progress: Progress | None = None
        self._changed_meanwhile = False  # a decision before the whole-corpus read is in
        # ((doc_id, unit), versions) of the unit last read: the curator decides one unit
        # many times over (a toggle, another, undo) and its versions do not change
        # meanwhile (the annotators' journals are read-only here), so every journal is
        # read once per unit, not once per keypress. `forget_versions` drops it.
        self.last_versions: tuple[tuple[str, int], dict[str, dict]] | None = None

    # -- reading ----------------------------------------------------------------------
    def shown_name(self, name: str) -> str:
        """How an annotator is shown: the name, or a letter (anonymous)."""
        return self._labels[name]

    def versions(self, doc_id: str, unit: int) -> dict[str, dict]:
        """Every annotator's done version of the unit, by name (sorted). Read once per
        unit (see `last_versions`); not to be changed by the caller."""
        last = self.last_versions
        if last is not None and last[0] == (doc_id, unit):
            return last[1]
        versions = versions_of({j.annotator: j.state(doc_id, unit) for j in self.journals})
        self.last_versions = ((doc_id, unit), versions)
        return versions

    def forget_versions(self) -> None:
        """The next `versions` reads the journals again (the screen moved to a unit:
        an annotator may have changed it since it was last shown)."""
        self.last_versions = None

    def gold_state(self, doc_id: str, unit: int) -> dict | None:
        return self.gold.state(doc_id, unit)

    def disagreements(self, doc_id: str, unit: int,
                      versions: dict[str, dict] | None = None) -> list[str]:
        """`versions`: the unit's, read already (one read per keypress, not three)."""
        if versions is None:
            versions = self.versions(doc_id, unit)
        return disagreements(versions, self.schema)

    def scan(self, given: auto.Scan | None = None) -> auto.Scan:
        """The whole corpus's versions (`auto.scan`), read once; `given`: one read
        already (by the automatic merge just before)."""
        from annotator.adjudication import auto

        if given is not None:
            self._scan = given
            self._disagree_keys = given.units[given.disagree()]
        if self._scan is None:
            self._scan = auto.scan(self.store, self.schema, self.journals)
            self._disagree_keys = self._scan.units[self._scan.disagree()]
        return self._scan

    def progress(self) -> Progress:
        """Counted once from the journals; `apply`, `undo` and `redo` keep it current
        (a keypress must not rescan a million units)."""
        if self._progress is None:
            self._progress = _count_progress(self.scan(), self.gold)
        return self._progress

    # -- the whole-corpus read, away from the screen ----------------------------------
    @property
    def ready(self) -> bool:
        """The whole corpus's versions are read (n / N, the progress counts)."""
        return self._scan is not None

    @property
    def can_read_aside(self) -> bool:
        """The store can open connections of its own for a reader thread (SQLite)."""
        return hasattr(self.store, "reopen")

    def read_aside(self) -> tuple[auto.Scan, Progress]:
        """`scan` and `progress` computed on a store of their own (`store.reopen()`):
        safe in a worker thread while the screen reads and writes through the session's
        connections. Install the result with `install`, in the screen's thread."""
        from annotator.adjudication import auto

        store = self.store.reopen()
        try:
            journals = store.reading_journals()
            s = auto.scan(store, self.schema, journals)
            return s, _count_progress(s, store.journal(GOLD, self.schema))
        finally:
            store.close()

    def install(self, s: auto.Scan, progress: Progress) -> None:
        self._scan = s
        self._disagree_keys = s.units[s.disagree()]
        # a decision made while the read ran is not in its counts: count again (once)
        self._progress = None if self._changed_meanwhile else progress

    def progress_if_ready(self) -> Progress | None:
        return self.progress() if self.ready else None

    def _contains(self, keys: np.ndarray | None, doc_id: str, unit: int) -> bool:
        import numpy as np

        doc = self.store.document(doc_id)
        if keys is None or doc is None or not len(keys):
            return False
        k = doc.key * self.scan().base + unit
        i = int(np.searchsorted(keys, k))
        return i < len(keys) and int(keys[i]) == k

    def is_disagreement(self, doc_id: str, unit: int) -> bool:
        self.scan()
        return self._contains(self._disagree_keys, doc_id, unit)

    def _count(self, doc_id: str, unit: int, was_done: bool, now_done: bool) -> None:
        p = self.progress()
        step = int(now_done) - int(was_done)
        if not step:
            return
        p.decided += step
        if self._contains(self.scan().units, doc_id, unit):
            p.left -= step
            if self.is_disagreement(doc_id, unit):
                p.disagreeing_left -= step

    def next_disagreement(self, doc_key: int, unit: int, backwards: bool = False
                          ) -> tuple[int, int] | None:
        """(document key, unit) of the next unit whose annotators disagree, after (or
        before) the one given; wraps around. Read once per session (annotators' work
        does not change while the round is adjudicated)."""
        import numpy as np

        s = self.scan()
        keys = self._disagree_keys
        if keys is None or not len(keys):
            return None
        here = doc_key * s.base + unit
        if backwards:
            i = int(np.searchsorted(keys, here, "left")) - 1
            k = int(keys[i]) if i >= 0 else int(keys[-1])
        else:
            i = int(np.searchsorted(keys, here, "right"))
            k = int(keys[i]) if i < len(keys) else int(keys[0])
        return k // s.base, k % s.base

    # -- deciding -----------------------------------------------------------------------
    def apply(self, doc_id: str, unit: int, action: dict, auto_mark: str | None = None
              ) -> Change:
        """Apply a gold action, recording which annotators the resulting gold sides
        with. Durable when it returns (the gold journal's `apply`)."""
        u = self.store.unit(doc_id, unit)
        if u is None:
            raise InputError(f"no unit {unit} in document {doc_id!r}")
        before = self.gold.state(doc_id, unit)
        versions = self.versions(doc_id, unit)
        if not before and versions and action["type"] != "set_gold":
            action = {**action, "gold_start": agreed_part(versions, self.schema)}
        was_done = is_done(before)
        # owned: `before` was read for this call alone (the journal parses it anew on
        # every read), and the action's spans are copied in (_put_spans): changing it
        # in place touches neither the cached versions nor the state on screen
        after = apply_action(before, action, self.schema, u.text, owned=True)
        fields = decision_fields(after, versions, self.schema,
                                 auto=auto_mark, curator=self.curator)
        change = self.gold.apply(doc_id, unit, {**action, **fields})
        self._changed_meanwhile |= self._scan is None
        if self._progress is not None:
            self._count(doc_id, unit, was_done, is_done(change.state))
        return change

    def take_version(self, doc_id: str, unit: int, layer_id: str, name: str) -> Change:
        """The layer's gold becomes `name`'s version of it."""
        layer = self.schema.layer(layer_id)
        version = self.versions(doc_id, unit).get(name)
        if layer is None or version is None:
            raise InputError(f"{name} has no version of this unit")
        if layer.kind == "span":
            spans, rels = layer_spans(version, layer_id)
            action = {"type": "take_version", "layer": layer_id, "span_layer": True,
                      "from": name, "spans": spans, "relations": rels}
        else:
            value = (version.get("labels") or {}).get(layer_id)
            if layer.kind == "multi":
                value = list(value) if isinstance(value, list) else [value] if value else []
            elif isinstance(value, list):
                value = value[0] if value else None
            action = {"type": "take_version", "layer": layer_id, "from": name,
                      "value": value}
        return self.apply(doc_id, unit, action)

    def accept_span(self, doc_id: str, unit: int, name: str, span_id: str) -> Change:
        """Add one of `name`'s spans to the gold (with its attributes)."""
        version = self.versions(doc_id, unit).get(name) or {}
        span = next((s for s in version.get("spans") or () if s["id"] == span_id), None)
        if span is None:
            raise InputError(f"{name} has no span {span_id!r} on this unit")
        return self.apply(doc_id, unit, {"type": "add_span", "layer": span["layer"],
                                         "label": span["label"], "start": span["start"],
                                         "end": span["end"],
                                         "attributes": span.get("attributes") or {},
                                         "from": name})

    def accept_unit(self, doc_id: str, unit: int) -> Change:
        """The gold as shown becomes the decision (on a unit without gold: the layers
        its annotators agree on, `shown_gold`)."""
        return self.apply(doc_id, unit, {"type": "accept_unit"})

    def shown_gold(self, doc_id: str, unit: int, versions: dict[str, dict] | None = None,
                   stored: dict | None = None) -> dict:
        """The gold as the screen shows it: the stored one, else the layers the unit's
        annotators agree on (not stored until a decision is made). `versions`,
        `stored`: the unit's versions and gold state, read already."""
        gold = stored if stored is not None else self.gold.state(doc_id, unit)
        if gold:
            return gold
        if versions is None:
            versions = self.versions(doc_id, unit)
        part = agreed_part(versions, self.schema)
        # the state a first decision would start from (set_note: changes nothing else)
        return apply_action(None, {"type": "set_note", "note": None, "gold_start": part})

    def undo(self) -> Change | None:
        return self._step(self.gold.undo)

    def redo(self) -> Change | None:
        return self._step(self.gold.redo)

    def _step(self, method: Any) -> Change | None:
        # the state before, for the progress counts: read after, from the event
        change = method()
        self._changed_meanwhile |= change is not None and self._scan is None
        if change is not None and self._progress is not None:
            ev = self.gold.events(1)[0]
            row = self.gold.conn.execute("SELECT before FROM events WHERE seq = ?",
                                         (ev["seq"],)).fetchone()
            self._count(change.doc_id, change.unit,
                        is_done(json.loads(row[0]) if row[0] else None),
                        is_done(change.state or None))
        return change


def _count_progress(s: auto.Scan, gold: Any) -> Progress:
    from annotator.adjudication import auto

    decided = gold.done_count()
    with_gold = auto._member(s.units, gold.agreement_columns(s.base)[0])
    dis = s.disagree()
    return Progress(decided, int((~with_gold).sum()), int(dis.sum()),
                    int((dis & ~with_gold).sum()))
