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
    """What a merge reads now (None: a journal that cannot say: the merge runs)."""
    marks: dict[str, Any] = {"": [store.document_count(), store.unit_count()]}
    for j in journals:
        last_seq = getattr(j, "last_seq", None)
        if last_seq is None:
            return None
        last = last_seq()
        if last is not None:  # a journal without events has no version to merge
            marks[j.annotator] = last
    return json.dumps({"strategy": strategy, "journals": marks}, sort_keys=True)


def up_to_date(gold: Any, stamp: str | None) -> bool:
    """The last merge read exactly this: nothing new to merge."""
    read = getattr(gold, "meta_value", None)
    return stamp is not None and read is not None and read(KEY) == stamp


def record(gold: Any, stamp: str | None) -> None:
    """After a merge that finished: what it read."""
    write = getattr(gold, "set_meta_value", None)
    if stamp is not None and write is not None:
        write(KEY, stamp)
