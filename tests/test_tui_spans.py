"""Pilot tests of spans: keyboard creation, relabel, delete, quote proposals, links,
attributes. Assertions read the journal."""

from __future__ import annotations

from test_tui_helpers import QUOTE, keys, main, make_app, restart, screen_text

from annotator.quotes import inner, propose_quotes

FIRST = "First paragraph about sovereignty."


def spans(app, unit: int) -> list[dict]:
    state = app.journal.state("doc-a", unit) or {}
    return state.get("spans", [])


async def test_span_by_word_moves_and_word_extend(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(app, pilot, "j", "w", "v", "W", "Q")
        [span] = spans(app, 1)
        assert (span["start"], span["end"], span["text"]) == (6, 15, "paragraph")
        assert span["label"] == "quote" and span["attributes"] == {"type": "direct"}
        assert app.journal.state("doc-a", 1)["status"] == "done"
        assert main(app).span_anchor is None and main(app).selected == span["id"]
        assert "Q" in screen_text(app)  # the label's letter marks the row


async def test_span_by_char_moves_and_shift_extend_and_back(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        # shift+arrows start a span at the cursor without v
        await keys(app, pilot, "j", "l", "l", "h", "shift+right", "shift+right", "S")
        [span] = spans(app, 1)
        assert (span["start"], span["end"], span["text"]) == (1, 4, "irs")
        assert span["label"] == "source"
        # extend backwards from the end of "about" to the start of "paragraph"
        await keys(app, pilot, "escape", "w", "w", "w", "h", "h", "v", "B", "B", "S")
        second = [s for s in spans(app, 1) if s["id"] != span["id"]]
        assert [s["text"] for s in second] == ["paragraph about"]
        # H / L extend too
        await keys(app, pilot, "escape", "0", "L", "L", "Q")
        assert {s["text"] for s in spans(app, 1)} == {"irs", "paragraph about", "Fir"}


async def test_overlapping_spans_relabel_delete_and_undo(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(app, pilot, "j", "v", "W", "W", "Q")  # "First paragraph"
        await keys(app, pilot, "escape", "w", "v", "W", "W", "S")  # "paragraph about"
        assert sorted(s["text"] for s in spans(app, 1)) == ["First paragraph",
                                                            "paragraph about"]
        text = screen_text(app)
        assert "QS" in text  # both labels marked on the row
        # relabel: select the first span with tab and press the other label's key
        await keys(app, pilot, "escape", "tab")
        assert main(app).selected == "s1"
        await keys(app, pilot, "S")
        assert {s["id"]: s["label"] for s in spans(app, 1)} == {"s1": "source",
                                                               "s2": "source"}
        await keys(app, pilot, "shift+tab", "shift+tab")
        assert main(app).selected == "s1"
        await keys(app, pilot, "x")
        assert [s["id"] for s in spans(app, 1)] == ["s2"]
        await keys(app, pilot, "u")
        assert sorted(s["id"] for s in spans(app, 1)) == ["s1", "s2"]
        await keys(app, pilot, "u")  # the relabel
        assert {s["id"]: s["label"] for s in spans(app, 1)}["s1"] == "quote"


async def test_span_mode_cancel_and_whitespace_only(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(app, pilot, "j", "v")
        assert main(app).span_anchor == 0
        assert "SPAN" in screen_text(app)
        await keys(app, pilot, "escape")
        assert main(app).span_anchor is None
        await keys(app, pilot, "e", "l", "l", "l", "l", "v", "Q")  # e? no: e is a label
        # 'e' toggled a paragraph label; the span at cursor 4 is "t"
        assert app.journal.state("doc-a", 1)["labels"]["devices"] == ["economic_cooperation"]
        assert [s["text"] for s in spans(app, 1)] == ["t"]
        await keys(app, pilot, "escape", "escape", "l", "v", "Q")  # a space: refused
        assert len(spans(app, 1)) == 1


async def test_quote_proposal_reject(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(app, pilot, "j", "j")
        assert "proposed quote" in screen_text(app)
        await keys(app, pilot, "tab")
        assert main(app).selected == "?0"
        await keys(app, pilot, "x")
        assert spans(app, 2) == []
        assert main(app)._open_proposals() == []
        await keys(app, pilot, "a")
        assert spans(app, 2) == []
        # the rejection is stored: it survives a restart, and undo brings the proposal back
        quoted = inner(QUOTE, propose_quotes(QUOTE)[0])
        assert app.journal.state("doc-a", 2)["rejected"] == [list(quoted)]
    app2 = restart(app)
    async with app2.run_test(size=(80, 24)) as pilot:
        assert main(app2).unit == 2
        assert main(app2)._open_proposals() == []
        await keys(app2, pilot, "u")
        assert len(main(app2)._open_proposals()) == 1


async def test_quote_accept_type_and_attribution(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await keys(app, pilot, "j", "j", "a")
        [quote] = spans(app, 2)
        start, end = inner(QUOTE, propose_quotes(QUOTE)[0])
        assert (quote["start"], quote["end"]) == (start, end)
        assert quote["text"] == "we will not bow"
        assert quote["label"] == "quote" and quote["attributes"] == {"type": "direct"}
        await keys(app, pilot, "t")
        assert spans(app, 2)[0]["attributes"] == {"type": "indirect"}
        await keys(app, pilot, "t")
        assert spans(app, 2)[0]["attributes"] == {"type": "direct"}
        # r with no source span yet: nothing happens
        await keys(app, pilot, "r")
        assert main(app).link_from is None
        # mark the source: 11 words on to "Foreign", then four words
        await keys(app, pilot, "escape", "0", *["w"] * 11, "v", "W", "W", "W", "W", "S")
        source = [s for s in spans(app, 2) if s["label"] == "source"]
        assert [s["text"] for s in source] == ["Foreign Minister Elena Rusk"]
        await keys(app, pilot, "shift+tab")
        assert main(app).selected == quote["id"]
        await keys(app, pilot, "r")
        assert main(app).link_from == quote["id"]
        assert main(app).link_target == source[0]["id"]
        assert "LINK" in screen_text(app)
        await keys(app, pilot, "enter")
        state = app.journal.state("doc-a", 2)
        assert state["relations"] == [{"label": "attributed_to", "from": quote["id"],
                                       "to": source[0]["id"]}]
        assert main(app).unit == 2  # enter confirmed the link; it did not move on
        assert f"{quote['id']} Q→{source[0]['id']}" in screen_text(app)
        # r then x removes the link
        await keys(app, pilot, "r", "x")
        assert app.journal.state("doc-a", 2)["relations"] == []


LONG = " ".join(f"w{i:03d}" for i in range(600)) + " Caracas."  # ~100 rows at 80 columns


async def test_span_mode_up_down_move_one_row_and_the_view_follows(tmp_path):
    from annotator.corpus import Document
    from annotator.tui.unit_view import UnitView

    app = make_app(tmp_path, [Document("doc-a", None, [LONG, "Next paragraph."])])
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.screen.query_one(UnitView)
        width = view.text_width()
        await keys(app, pilot, "v", "down")
        s = main(app)
        assert s.span_anchor is not None, "down left span mode"
        assert s.unit == 1  # still on the long paragraph
        first_row_end = view.row_bounds(0)[1]
        assert s.cursor == first_row_end  # column 0 of the second row
        # down to the last row: the view scrolls with the cursor
        await keys(app, pilot, *["j"] * 200)
        assert s.unit == 1 and s.span_anchor is not None
        assert LONG.index("Caracas") >= view.row_bounds(s.cursor)[0]
        assert view.scroll_offset.y > 0
        assert "Caracas" in screen_text(app)
        # mark "Caracas" on the last row: to the row's end, back a word, extend
        await keys(app, pilot, "end", "b", "W", "S")
        assert [sp["text"] for sp in spans(app, 1)] == ["Caracas"]
        # k goes up a row in span mode, and up out of span mode goes to the previous unit
        await keys(app, pilot, "v", "k", "k")
        assert s.unit == 1 and s.span_anchor is not None
        assert s.cursor < LONG.index("Caracas") - width


async def test_shift_down_extends_a_span_over_two_rows(tmp_path):
    from annotator.corpus import Document
    from annotator.tui.unit_view import UnitView

    app = make_app(tmp_path, [Document("doc-a", None, [LONG])])
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.screen.query_one(UnitView)
        await keys(app, pilot, "w", "shift+down", "S")
        [span] = spans(app, 1)
        assert span["start"] == LONG.index("w001")
        assert span["end"] > view.row_bounds(0)[1]  # reaches into the second row


KASSAB = ("“This is a bridge between peoples, not between blocs,” Valdorian Foreign "
          "Minister Noor Kassab told reporters in Ostrava.")


async def test_quote_source_and_link_in_at_most_8_keys(tmp_path):
    """From arriving at the paragraph: accept the proposed quote (a), accept the
    proposed speaker and link it (a). Keys are counted as the user types them."""
    from annotator.corpus import Document

    app = make_app(tmp_path, [Document("doc-a", None, ["Before.", KASSAB])])
    async with app.run_test(size=(100, 30)) as pilot:
        await keys(app, pilot, "j")  # arrive at the paragraph
        typed = ["a", "a"]
        await keys(app, pilot, *typed)
        assert len(typed) <= 8
        state = app.journal.state("doc-a", 2)
        by_label = {s["label"]: s for s in state["spans"]}
        assert by_label["quote"]["text"].strip("“”,") == (
            "This is a bridge between peoples, not between blocs")
        assert by_label["source"]["text"] == "Valdorian Foreign Minister Noor Kassab"
        assert state["relations"] == [{"label": "attributed_to",
                                       "from": by_label["quote"]["id"],
                                       "to": by_label["source"]["id"]}]
        print(f"\nquote + source + attributed_to in {len(typed)} keys")


async def test_a_rejected_source_is_recorded_and_not_proposed_again(tmp_path):
    from annotator.corpus import Document

    app = make_app(tmp_path, [Document("doc-a", None, ["Before.", KASSAB])])
    async with app.run_test(size=(100, 30)) as pilot:
        await keys(app, pilot, "j", "a")
        s = main(app)
        assert s.source_proposal is not None
        assert "source “Valdorian" in screen_text(app)
        await keys(app, pilot, "x")  # rejects the proposed speaker, keeps the quote
        state = app.journal.state("doc-a", 2)
        assert [sp["label"] for sp in state["spans"]] == ["quote"]
        start = KASSAB.index("Valdorian")
        assert state["rejected_sources"] == [[start, start + len(
            "Valdorian Foreign Minister Noor Kassab")]]
        assert s.source_proposal is None
        # the audit trail holds the rejection as an event
        kinds = [e["action"]["type"] for e in app.journal.events()]
        assert kinds[0] == "reject_proposal"  # newest first
        assert app.journal.events()[0]["action"]["kind"] == "source"
    app2 = restart(app)
    async with app2.run_test(size=(100, 30)) as pilot:
        await keys(app2, pilot, "tab")
        assert main(app2).source_proposal is None  # not proposed again
