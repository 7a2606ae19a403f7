"""Whether the automatic merge has anything new to read: a stamp of what the last merge
read (the strategy, the corpus's size, each annotator journal's last event), kept in
the gold journal's `meta` table. Without numpy: `adjudicate` asks before it imports
the merge, so a curator coming back to a merged store gets the screen at once.

A unit whose automatic gold a curator undid stays open until an annotator's journal
changes (the next merge would fill it again).
"""

from __future__ import annotations

import json
from typing import Any

KEY = "auto_merged"


def merge_stamp(strategy: str, journals: list, store: Any) -> str | None:
    """What a merge reads now (None: a store that cannot say, e.g. PostgreSQL: the
    merge always runs)."""
    marks: dict[str, Any] = {"": [store.document_count(), store.unit_count()]}
    for j in journals:
        conn = getattr(j, "conn", None)
        if conn is None:
            return None
        last = conn.execute("SELECT max(seq) FROM events").fetchone()[0]
        if last is not None:  # a journal without events has no version to merge
            marks[j.annotator] = last
    return json.dumps({"strategy": strategy, "journals": marks}, sort_keys=True)


def up_to_date(gold: Any, stamp: str | None) -> bool:
    """The last merge read exactly this: nothing new to merge."""
    conn = getattr(gold, "conn", None)
    if stamp is None or conn is None:
        return False
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (KEY,)).fetchone()
    return row is not None and row[0] == stamp


def record(gold: Any, stamp: str | None) -> None:
    """After a merge that finished: what it read."""
    if stamp is not None and getattr(gold, "conn", None) is not None:
        with gold._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (KEY, stamp))
