"""Speaker proposals from the reporting frame around a quote (annotator.sources)."""

from __future__ import annotations

import pytest

from annotator.quotes import propose_quotes
from annotator.sources import propose_source

CASES = [
    ("en", "The Vice Minister said in a statement, “we will not accept it”.", "Vice Minister"),
    ("en", "Maduro stressed on Twitter that the cooperation was “at the highest level”.",
     "Maduro"),
    ("en", "“This is a bridge between peoples, not between blocs,” Valdorian Foreign "
           "Minister Noor Kassab told reporters.", "Valdorian Foreign Minister Noor Kassab"),
    ("en", "“We will respond,” said Foreign Minister Elena Rusk.", "Foreign Minister Elena Rusk"),
    ("en", "According to the Ministry of Foreign Affairs, the sanctions are “illegal”.",
     "Ministry of Foreign Affairs"),
    ("es", "“Es una agresión”, afirmó el canciller Yván Gil.", "Yván Gil"),
    ("es", "El presidente Nicolás Maduro señaló que la relación es “estratégica”.",
     "Nicolás Maduro"),
    ("es", "Según el Gobierno de Venezuela, las medidas son «ilegales».",
     "Gobierno de Venezuela"),
    ("fr", "Selon le ministre Jean Dupont, « la France restera ferme ».", "Jean Dupont"),
    ("fr", "« Nous ne céderons pas », a déclaré Emmanuel Macron.", "Emmanuel Macron"),
]


@pytest.mark.parametrize(("lang", "text", "speaker"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_the_speaker_is_proposed_from_the_reporting_frame(lang, text, speaker):
    (quote,) = propose_quotes(text)
    found = propose_source(text, quote)
    assert found is not None, text
    assert text[found[0]:found[1]] == speaker


@pytest.mark.parametrize("text", [
    "The weather was “fine” today.",
    "Prices rose. “Nobody expected it”.",
    "Il fait « beau » aujourd'hui.",
])
def test_no_frame_no_proposal(text):
    (quote,) = propose_quotes(text)
    assert propose_source(text, quote) is None


def test_the_verbs_are_data():
    from annotator.sources import DATA

    assert DATA.suffix == ".yaml" and "afirmó" in DATA.read_text(encoding="utf-8")
