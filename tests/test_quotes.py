"""Quote proposals (annotator/quotes.py) on realistic news paragraphs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotator.quotes import QUOTE_MARKS, inner, propose_quotes


def quotes(text: str) -> list[str]:
    return [text[a:b] for a, b in propose_quotes(text)]


# --- quotations -------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    # dateline, curly double quotes, speech verb after
    ("Caracas, 23 April 2022 (TDI): “We will not bow to pressure,” said Foreign "
     "Minister Elena Rusk.", ["“We will not bow to pressure,”"]),
    # two quotations in one paragraph
    ("“The sanctions are illegal,” the minister said. “They are a crime against "
     "our people.”", ["“The sanctions are illegal,”",
                      "“They are a crime against our people.”"]),
    # straight quotes, paired across the paragraph
    ('"We are ready," he said. "The door remains open," the ministry added.',
     ['"We are ready,"', '"The door remains open,"']),
    # a quote that is the whole paragraph
    ("“Our friendship has stood the test of seventy years.”",
     ["“Our friendship has stood the test of seventy years.”"]),
    ('"Our friendship has stood the test of seventy years."',
     ['"Our friendship has stood the test of seventy years."']),
    # French guillemets with (no-break) spaces inside
    ("« Nous ne céderons pas aux pressions », a déclaré le ministre.",
     ["« Nous ne céderons pas aux pressions »"]),
    ("«\u00a0Nous ne céderons pas\u00a0», a déclaré le ministre.",
     ["«\u00a0Nous ne céderons pas\u00a0»"]),
    # Spanish with guillemets and curly quotes
    ("«Seguiremos adelante», dijo el canciller. “No nos rendiremos”, añadió.",
     ["«Seguiremos adelante»", "“No nos rendiremos”"]),
    # German low-high quotes, and reversed guillemets
    ("„Wir lassen uns nicht erpressen“, sagte Außenminister Schmidt.",
     ["„Wir lassen uns nicht erpressen“"]),
    ("»Wir sind bereit«, sagte er.", ["»Wir sind bereit«"]),
    # Polish „…”
    ("„Nie ustąpimy”, powiedział minister.", ["„Nie ustąpimy”"]),
    # Russian
    ("«Мы не отступим», — заявил министр.", ["«Мы не отступим»"]),
    # single curly quotes as scare quotes, next to apostrophes
    ("The country’s leaders called the plan ‘a provocation’ and “illegal”.",
     ["‘a provocation’", "“illegal”"]),
])
def test_proposes_quotations(text: str, expected: list[str]) -> None:
    assert quotes(text) == expected


@pytest.mark.parametrize("text", [
    # indirect speech has no quote marks
    "The Vice Minister said that the measures were doomed to fail.",
    "According to the ministry, the talks were fruitful and will continue next month.",
    # apostrophes are not quotes
    "The country’s position hasn’t changed since the ‘90s, the ministry’s note says.",
    "The countries’ leaders met; the people’s representatives didn’t attend.",
    "Ukraine's and Russia's delegations don't agree.",
    # scrape leftovers
    "See More",
    "Related\u00a0\u00a0Articles\u00a0\u00a0Leave a Reply",
    "",
    # a lone straight quote, an unclosed curly one
    'The pipe measures 5" across.',
    "“This quote continues in the next paragraph, as quotes do in news",
])
def test_proposes_nothing(text: str) -> None:
    assert propose_quotes(text) == []


def test_apostrophe_inside_single_quotes() -> None:
    text = "He called it ‘the country’s darkest hour’ in his speech."
    assert quotes(text) == ["‘the country’s darkest hour’"]


def test_plural_possessive_inside_single_quotes() -> None:
    text = "‘The countries’ leaders are wrong,’ she said."
    assert quotes(text) == ["‘The countries’ leaders are wrong,’"]


def test_nested_quotes_give_the_outer_one() -> None:
    text = "“He told me ‘never again’ and left,” the ambassador recalled."
    assert quotes(text) == ["“He told me ‘never again’ and left,”"]
    text = "« Il a parlé d’une “guerre économique” », selon le diplomate."
    assert quotes(text) == ["« Il a parlé d’une “guerre économique” »"]
    text = '"We will "fight" back," he said.'
    assert quotes(text) == ['"We will "fight" back,"']


def test_odd_straight_quote_is_ignored() -> None:
    text = '"We are ready," he said, adding that the 12" shells were "old stock".'
    assert quotes(text) == ['"We are ready,"', '"old stock"']
    # an unclosed opener gives way to a quotation that is closed
    assert quotes('"First part, then "second"') == ['"second"']


def test_unclosed_outer_keeps_closed_inner() -> None:
    text = "“He said ‘no more talks’ and the meeting ended"
    assert quotes(text) == ["‘no more talks’"]


def test_offsets_are_code_points() -> None:
    text = "Москва 🇷🇺: «Мы не отступим», — заявил министр."
    (a, b), = propose_quotes(text)
    assert text[a] == "«" and text[b - 1] == "»"
    assert text[a:b] == "«Мы не отступим»"


def test_inner_strips_marks_and_spaces() -> None:
    text = "« Nous ne céderons pas », a déclaré le ministre."
    a, b = inner(text, propose_quotes(text)[0])
    assert text[a:b] == "Nous ne céderons pas"


# --- properties ---------------------------------------------------------------------

_alphabet = st.sampled_from(list("“”„‘’‚«»‹›\"'") + list("ab sS.,\n\u00a0—") + ["é", "д"])
_news = st.sampled_from([
    "“We will not bow,” she said. ", "the country’s ", "‘a provocation’ ", '"yes" ',
    "« Non » ", "„Ja“ ", "the ‘90s ", "countries’ ", '12" ', "said ", "Rusk ",
])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(_alphabet, max_size=60), st.lists(_news, max_size=8).map("".join),
                 st.text(max_size=40)))
def test_spans_are_well_formed(text: str) -> None:
    spans = propose_quotes(text)
    assert spans == sorted(spans)
    prev_end = 0
    for start, end in spans:
        assert 0 <= start < end <= len(text)
        assert end - start >= 2
        assert text[start] in QUOTE_MARKS and text[end - 1] in QUOTE_MARKS
        assert start >= prev_end, "spans overlap"
        prev_end = end


def test_a_quote_that_continues_into_the_next_paragraph_is_proposed():
    from annotator.quotes import continued_quote

    text = "The minister went on: “We will not accept this, and we will say so"
    start, end = continued_quote(text)
    assert text[start:end] == "“We will not accept this, and we will say so"
    assert continued_quote("He said “no” and left.") is None
    assert continued_quote("A paragraph without quotes.") is None
    french = "« Nous refusons, dit-il, et nous"
    assert continued_quote(french) == (0, len(french))
