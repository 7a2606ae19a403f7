"""Go to (`g`) by the start of a document id: a unique prefix goes there, an
ambiguous one lists the candidates and stays."""

from __future__ import annotations

from pathlib import Path

from test_tui_helpers import main, make_app, where

from annotator.corpus import Document

DOCS = [Document(f"tdi-2024-{n}", None, [f"Paragraph of {n}."])
        for n in ("0201-envoy", "0203-sanctions", "0310-summit", "0311-summit-b")]


async def test_goto_by_a_unique_prefix_and_an_ambiguous_one(tmp_path: Path) -> None:
    app = make_app(tmp_path, DOCS)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = main(app)
        screen._goto("tdi-2024-0203")
        await pilot.pause()
        assert where(app) == ("tdi-2024-0203-sanctions", 1)
        screen._goto("tdi-2024-031:1")  # a prefix with a unit
        await pilot.pause()
        assert where(app) == ("tdi-2024-0203-sanctions", 1)  # ambiguous: stays
        shown = [n.message for n in app._notifications]
        assert any("2 documents start with 'tdi-2024-031': tdi-2024-0310-summit, "
                   "tdi-2024-0311-summit-b" in m for m in shown), shown
        screen._goto("tdi-2024-0311")
        await pilot.pause()
        assert where(app) == ("tdi-2024-0311-summit-b", 1)
        screen._goto("tdi-2024-0310-summit")  # an exact id beats a longer one
        await pilot.pause()
        assert where(app) == ("tdi-2024-0310-summit", 1)
        screen._goto("zzz")
        await pilot.pause()
        assert where(app) == ("tdi-2024-0310-summit", 1)


def test_prefix_lookup_is_a_range_of_ids(tmp_path: Path) -> None:
    app = make_app(tmp_path, [*DOCS, Document("tdi-2024-\U0010ffffx", None, ["x"]),
                              Document("tdi-2025", None, ["y"])])
    found = [d.id for d in app.store.documents_with_prefix("tdi-2024-")]
    assert found == sorted(d.id for d in DOCS) + ["tdi-2024-\U0010ffffx"]
    assert [d.id for d in app.store.documents_with_prefix("tdi-2024-03", 1)] == [
        "tdi-2024-0310-summit"]
    assert app.store.documents_with_prefix("") == []
