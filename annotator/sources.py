"""Proposing the speaker (source) of a quotation from its reporting frame.

"the Vice Minister said in a statement, “...”", "“...”, Maduro stressed on Twitter",
"“...”, said the minister", "according to the ministry, ...": the subject noun phrase
of a reporting verb next to the quote, or the noun phrase after "according to", in the
same sentence. The verbs and phrases are data (`annotator/attribution.yaml`, English,
Spanish and French), loaded once. Pure text heuristics, no I/O beyond that file and no
Textual; offsets are `[start, end)` code points, like every span.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).with_name("attribution.yaml")
WINDOW = 160  # characters either side of the quote searched for its frame
# Opening and closing quotation marks (as annotator.quotes proposes them).
_MARKS = "“”„‘’‚«»‹›「」『』\"'"
_CAP = r"[^\W\d_a-zà-ÿ]"  # an upper-case letter (any script with case)


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    # The YAML parser only when a source is first proposed: not before the first paint.
    import yaml

    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))["languages"]
    verbs, according, articles, joiners = set(), set(), set(), set()
    for lang in data.values():
        verbs.update(lang.get("verbs", []))
        according.update(lang.get("according", []))
        articles.update(lang.get("articles", []))
        joiners.update(lang.get("joiners", []))

    def alt(words: set[str]) -> str:
        # case-blind, as a whole: "Según" opens a sentence, "según" does not
        return "(?i:" + "|".join(re.escape(w).replace(r"\ ", r"\s+")
                                 for w in sorted(words, key=len, reverse=True)) + ")"

    word = rf"{_CAP}[\w’'\-.]*\w|{_CAP}"
    join = alt(joiners)
    # A speaker: capitalised words, with joiners ("of", "de") between them.
    # "el canciller Yván Gil", "le ministre Jean Dupont": up to two lower-case title
    # words before the name (the span is the name)
    noun = (rf"(?:(?:{alt(articles)})\s+)?(?:[^\W\d_A-Z]+\s+){{0,2}}(?P<np>(?:{word})(?:\s+(?:(?:{join})\s+)?"
            rf"(?:{word}))*)")
    verb = rf"(?:{alt(verbs)})"
    lead = r"^[\s,.;:—–-]*"
    # after the quote: ', the minister said' / ', said the minister'
    after = re.compile(rf"{lead}{noun}\s+{verb}\b")
    inverted = re.compile(rf"{lead}{verb}\s+{noun}")
    # before the quote: 'Maduro stressed on Twitter that ' up to the quote
    before = re.compile(rf"{noun}\s+{verb}\b[^.!?{_MARKS}]*[,:]?\s*$")
    accord = re.compile(rf"\b{alt(according)}\s+{noun}")
    return after, inverted, before, accord


def _capitalised(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The noun phrase matched, trimmed of a lower-case head ('the' matched case-blind
    as a word would be wrong): it must start with a capital."""
    np = text[start:end]
    m = re.search(_CAP, np)
    if m is None:
        return None
    start += m.start()
    return (start, end) if start < end else None


def propose_source(text: str, quote: tuple[int, int]) -> tuple[int, int] | None:
    """[start, end) of the likely speaker of the quote at `quote` (with or without its
    marks), or None. Looks after the quote first (the most common frame in news),
    then before it, then for "according to" in the same sentence."""
    after, inverted, before, accord = _patterns()
    s, e = quote
    # widen to the quote marks, so the frame is read from outside them
    while s > 0 and text[s - 1] in _MARKS:
        s -= 1
    while e < len(text) and text[e] in _MARKS:
        e += 1
    tail = text[e:e + WINDOW]
    m = after.search(tail) or inverted.search(tail)
    if m is not None:
        found = _capitalised(text, e + m.start("np"), e + m.end("np"))
        if found:
            return found
    lo = max(0, s - WINDOW)
    head = text[lo:s]
    # the frame before a quote stays in its sentence
    cut = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
    if cut >= 0:
        lo, head = lo + cut + 2, head[cut + 2:]
    m = before.search(head)
    if m is not None:
        found = _capitalised(text, lo + m.start("np"), lo + m.end("np"))
        if found:
            return found
    sentence_end = re.search(r"[.!?](?:\s|$)", tail)
    around = text[lo:e + (sentence_end.end() if sentence_end else len(tail))]
    m = accord.search(around)
    if m is not None:
        return _capitalised(text, lo + m.start("np"), lo + m.end("np"))
    return None
