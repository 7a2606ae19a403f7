"""Pilot tests of the labels panel: names wrap instead of ending in "…", the panel
takes the width the terminal gives, the layer heading stays on the top row while the
panel is scrolled, and the panel scrolls by keyboard; the status line wraps."""

from __future__ import annotations

from pathlib import Path

from test_tui_helpers import keys, main, make_app, restart, screen_text

from annotator.corpus import Document
from annotator.schema import load_schema
from annotator.store.sqlite import SQLiteStore
from annotator.tui.app import AnnotatorApp
from annotator.tui.labels_panel import LabelsPanel, panel_width, wrap_words


def _panel(app: AnnotatorApp) -> LabelsPanel:
    return main(app).query_one(LabelsPanel)


def _panel_rows(app: AnnotatorApp) -> list[str]:
    """The rows of the screen inside the labels panel, as drawn."""
    region = main(app).query_one("#labels-scroll").region
    rows = screen_text(app).split("\n")
    # without the border and the scrollbar columns
    return [row[region.x + 1:region.right - 1] for row in rows[region.y:region.bottom]]


def _names(schema, layer_id: str) -> list[str]:
    return [lab.name for lab in schema.layer(layer_id).labels]


def _joined(app: AnnotatorApp) -> str:
    return " ".join(" ".join(line.plain.split()) for line in _panel(app).lines)


async def test_names_wrap_at_80_columns_and_none_is_cut(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        lines = [line.plain for line in _panel(app).lines]
        assert not any(line.rstrip().endswith("…") for line in lines), lines
        text = _joined(app)
        for name in _names(app.schema, "devices"):
            assert name in text, name  # whole, over its wrapped lines
        width = main(app).query_one("#labels-scroll").region.width
        assert 30 <= width <= 80 - 34
        # and the whole default schema is in view (the span layer too)
        rows = _panel_rows(app)
        assert "Quote" in " ".join(rows) and "Source" in " ".join(rows)
        # a wrapped name's second line hangs under the name, not under the key
        at = next(i for i, line in enumerate(lines) if "Defence of" in line)
        assert lines[at + 1].startswith(" " * lines[at].index("Defence"))


async def test_the_panel_widens_with_the_terminal(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        narrow = main(app).query_one("#labels-scroll").region.width
        await pilot.resize_terminal(120, 30)
        await pilot.pause()
        await pilot.pause()
        wide = main(app).query_one("#labels-scroll").region.width
        assert wide > narrow
        await pilot.resize_terminal(200, 40)
        await pilot.pause()
        await pilot.pause()
        rows = _panel_rows(app)
        # room enough: every name on one line of its own
        for name in _names(app.schema, "devices"):
            assert any(name in row for row in rows), name
        assert main(app).query_one("#labels-scroll").region.width == panel_width(
            app.schema, 200, 35)


def test_wrap_words() -> None:
    assert wrap_words("Defence of international law", 12) == [
        "Defence of", "internationa", "l law"]
    assert wrap_words("short", 10) == ["short"]
    assert wrap_words("one two three four five six", 5, max_lines=2) == ["one", "two…"]
    assert all(len(line) <= 7 for line in wrap_words("a b c dddddddddddddd e", 7))
    assert wrap_words("anything at all", 0) == ["anything at all"]


def _big_schema(tmp_path: Path) -> Path:
    labels = "\n".join(
        f"      - id: l{i}\n        name: Label number {i} with a long enough name\n"
        f"        description: d"
        for i in range(60))
    path = tmp_path / "big.yaml"
    path.write_text(
        "id: big\nversion: 1\ntitle: Big\nlayers:\n"
        "  - id: first\n    name: First layer\n    kind: multi\n    labels:\n"
        f"{labels}\n"
        "  - id: last\n    name: Last layer\n    kind: single\n    labels:\n"
        "      - id: final\n        name: The very last label\n        key: \"1\"\n"
        "        description: d\n",
        encoding="utf-8")
    return path


def _big_app(tmp_path: Path) -> AnnotatorApp:
    schema = load_schema(_big_schema(tmp_path))
    store = SQLiteStore(tmp_path / ".annotator")
    store.import_documents([Document("d", None, ["One paragraph.", "Two."])])
    return AnnotatorApp(store, store.journal("alice", schema), schema)


async def test_keyboard_scrolls_the_panel_and_the_heading_stays(tmp_path: Path) -> None:
    app = _big_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert _panel_rows(app)[0].strip().startswith("First layer")
        assert not any("The very last label" in row for row in _panel_rows(app))
        await keys(app, pilot, "pagedown")
        await pilot.pause()
        scroll = main(app).query_one("#labels-scroll")
        assert scroll.scroll_y > 0
        rows = _panel_rows(app)
        # the heading of the layer being shown is on the top row, over the labels
        assert rows[0].strip().startswith("First layer"), rows[:3]
        assert "Label number" in rows[1]
        for _ in range(20):
            await keys(app, pilot, "pagedown")
        await pilot.pause()
        rows = _panel_rows(app)
        assert any("The very last label" in row for row in rows), (
            scroll.scroll_y, scroll.max_scroll_y, rows)
        assert rows[0].strip().startswith(("Last layer", "First layer"))
        top = _panel(app).heading_of(int(scroll.scroll_y))
        assert rows[0].strip() == _panel(app).lines[top].plain.strip()
        for _ in range(20):
            await keys(app, pilot, "pageup")
        await pilot.pause()
        assert scroll.scroll_y == 0
        assert "Label number 0 " in _panel_rows(app)[1]  # no sticky row at the top


async def test_heading_stays_when_spans_make_the_panel_scroll(tmp_path: Path) -> None:
    text = " ".join(f'He said "quote number {i}" then.' for i in range(12))
    app = make_app(tmp_path, [Document("q", None, [text])])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for _ in range(12):
            await keys(app, pilot, "a")
        await pilot.pause()
        assert len(app.journal.state("q", 1)["spans"]) == 12  # 6 quotes, 6 sources
        scroll = main(app).query_one("#labels-scroll")
        assert scroll.scroll_y > 0  # the selected span is kept in view
        rows = _panel_rows(app)
        selected = main(app).selected
        assert any(f"▸{selected} " in row for row in rows[1:]), rows
        assert "Spans" in [row.strip() for row in rows], "\n".join(rows)
        # the top row is the heading of the layer the view starts in
        panel = _panel(app)
        top = panel.heading_of(int(scroll.scroll_y))
        assert rows[0].strip() == panel.lines[top].plain.strip() != "", rows[:3]
        assert rows[0].strip().endswith(")")  # "Name (kind)": a layer heading


async def test_status_line_wraps_at_80_columns(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(app, pilot, "j", "j", "a")
        await pilot.pause()
        status = main(app).query_one("#status")
        shown = " ".join(line.plain.strip() for line in status.lines)
        # the whole hint, over two rows, not cut with "…"
        assert "other label key: relabel" in shown, shown
        assert len(status.lines) == 2
        rows = screen_text(app).split("\n")
        drawn = " ".join(" ".join(row.split()) for row in rows[status.region.y:
                                                               status.region.bottom])
        assert drawn.endswith("other label key: relabel"), drawn


def _frame(app: AnnotatorApp) -> list[list]:
    """The screen as drawn: every row's segments, text and style."""
    return [[(seg.text, seg.style) for seg in strip]
            for strip in app.screen._compositor.render_strips()]


async def test_toggled_panel_draws_as_a_fresh_one(tmp_path: Path) -> None:
    """The panel keeps each label's lines (and their rendered strips) and rebuilds
    only what a toggle changed: after any mix of toggles the screen is drawn exactly
    as a new session draws the same stored state."""
    app = make_app(tmp_path)
    schema = app.schema
    keyed = [lab.key for lay in schema.paragraph_layers for lab in lay.labels if lab.key]
    presses = [keyed[0], keyed[1], keyed[0], keyed[-1], keyed[1], keyed[0], keyed[-1]]
    frames = []
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for key in presses:
            await keys(app, pilot, key)
            await pilot.pause()
            frames.append((screen_text(app), _frame(app)))
    assert len({text for text, _ in frames}) > 2  # the toggles did change the screen
    again = restart(app)
    async with again.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert screen_text(again) == frames[-1][0]
        assert _frame(again) == frames[-1][1]
