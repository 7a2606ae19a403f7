"""A schema changed under a project: same id and version, other content.

Each journal records the schema (id, version, sha256 of the file) it was last opened
with. When the file's content changes but its id and version do not, annotations
made before may mean something else now (a label's definition rewritten, a label
gone): `annotate` says so on screen and `status` lists the journals concerned until
their annotator has opened the project again (and so has seen the notice)."""

from __future__ import annotations

from typing import Any

from annotator.schema import LabelSchema


def schema_ref(schema: LabelSchema) -> dict:
    return {"id": schema.id, "version": str(schema.version), "sha256": schema.sha256}


def schema_change(journal: Any, schema: LabelSchema) -> str | None:
    """What changed, if the journal last saw this schema id and version with other
    content; None otherwise (first time, same content, or a new version: a new
    version says itself that the schema changed)."""
    seen = getattr(journal, "schema_seen", None)
    seen = seen() if seen is not None else None
    now = schema_ref(schema)
    if not seen or not now["sha256"] or seen.get("sha256") == now["sha256"]:
        return None
    if (seen.get("id"), str(seen.get("version"))) != (now["id"], now["version"]):
        return None
    return (f"schema {now['id']!r} version {now['version']} changed since "
            f"{journal.annotator} last annotated with it (sha256 "
            f"{str(seen.get('sha256'))[:12]}… → {now['sha256'][:12]}…) without a new "
            "version: check that labels kept their meaning (raise `version:` when "
            "they do not)")


def record_schema(journal: Any, schema: LabelSchema) -> None:
    """Remember the schema this journal is being opened with."""
    setter = getattr(journal, "set_schema_seen", None)
    if setter is not None and (journal.schema_seen() or {}) != schema_ref(schema):
        setter(schema_ref(schema))
