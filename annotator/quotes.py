"""Proposing quotations in a paragraph, for the span layer.

Pure text heuristics, no I/O and no Textual: the TUI shows the proposals and the
annotator accepts, adjusts or ignores them. Offsets are `[start, end)` in Unicode code
points, like every span in the store.

`propose_quotes(text)` finds quotations INCLUDING their quote marks:

- curly double “…”, curly single ‘…’, guillemets «…» and ‹…›, German/Polish „…“ / „…”
  and ‚…‘, reversed guillemets »…« (German, Danish), Swedish ”…”, CJK 「…」 『…』;
- straight double quotes "…", paired across the paragraph: each mark is classified by
  the characters around it (opening before a word, closing after one); an odd leftover
  mark is ignored;
- ’ (and the straight ') inside a word is an apostrophe ("country’s", "don't") and
  never opens or closes a quote; a leading apostrophe in "‘90s" neither. Straight
  single quotes are never proposed: they are apostrophes far more often than quotes;
- nested quotations give only the outermost one; an opening mark that is never closed
  is dropped (its nested quotations, if closed, are proposed instead);
- indirect speech has no quote marks and gives nothing.
"""

from __future__ import annotations

import re
import unicodedata

# closing marks accepted for each opening mark
_CLOSERS: dict[str, str] = {
    "“": "”",       # English, Chinese
    "„": "“”",      # German, Czech ("„…“"); Polish, Hungarian, Romanian ("„…”")
    "”": "”",       # Swedish, Finnish
    "‘": "’",       # English single
    "‚": "‘’",      # German single
    "«": "»",       # French, Spanish, Russian, ...
    "»": "«",       # German, Danish
    "‹": "›",
    "›": "‹",
    "「": "」",
    "『": "』",
    '"': '"',
}
QUOTE_MARKS = frozenset("“”„‘’‚«»‹›「」『』\"")
# marks after which an opening quote may follow without a space: ( [ { — – / and quotes
_OPEN_PUNCT = frozenset("([{—–-/:") | QUOTE_MARKS


def _is_space(ch: str | None) -> bool:
    return ch is None or ch.isspace()


def _is_word(ch: str | None) -> bool:
    return ch is not None and (ch.isalnum() or unicodedata.category(ch) == "Mn")


def _is_apostrophe(text: str, i: int) -> bool:
    """’ or ' between two word characters ("country’s", "l’Europe"), or a leading
    apostrophe before a two-digit year ("‘90s", "’22")."""
    prev = text[i - 1] if i > 0 else None
    nxt = text[i + 1] if i + 1 < len(text) else None
    if text[i] in "’'" and _is_word(prev) and _is_word(nxt):
        return True
    return (text[i] in "‘’'" and not _is_word(prev)
            and re.match(r"\d\d(?:s\b|\b)", text[i + 1:i + 4]) is not None)


def _can_open(text: str, i: int) -> bool:
    """An opening mark comes before the quoted words and after a space, a start of
    text or an opening punctuation mark."""
    ch = text[i]
    prev = text[i - 1] if i > 0 else None
    nxt = text[i + 1] if i + 1 < len(text) else None
    if nxt is None:
        return False
    if ch in "«‹":  # French puts a (no-break) space inside guillemets
        return True
    if nxt.isspace():
        return False
    if ch in "“„‚「『":
        return not _is_word(prev) or ch in "「『"
    # marks that are closers elsewhere (” » › ‘ "): only where nothing precedes them
    return _is_space(prev) or prev in _OPEN_PUNCT


def _plural_possessive(text: str, i: int) -> bool:
    """’ right after an "s" and before a word ("the countries’ leaders") while a later
    ’ could still close the quote: then this one is an apostrophe."""
    if i == 0 or text[i - 1] not in "sSzZ" or not re.match(r"\s\w", text[i + 1:i + 3]):
        return False
    for j in range(i + 1, len(text)):
        ch = text[j]
        if ch == "‘":
            return False
        if ch == "’" and not _is_apostrophe(text, j) and not text[j - 1].isspace():
            return True
    return False


def _pairs(text: str) -> list[tuple[int, int]]:
    """Every matched (open, close) pair, properly nested, unclosed openers dropped."""
    return _scan(text)[0]


def _scan(text: str) -> tuple[list[tuple[int, int]], list[tuple[str, int]]]:
    """(matched pairs, the openers still open at the end of the text)."""
    stack: list[tuple[str, int]] = []  # (opening mark, offset)
    pairs: list[tuple[int, int]] = []
    for i, ch in enumerate(text):
        if ch not in QUOTE_MARKS:
            continue
        if ch in "’'" and _is_apostrophe(text, i):
            continue
        if ch == "‘" and _is_apostrophe(text, i):
            continue
        prev = text[i - 1] if i > 0 else None
        # 1. close the innermost open quotation this mark can close
        closed = False
        for depth in range(len(stack) - 1, -1, -1):
            mark, start = stack[depth]
            if ch not in _CLOSERS[mark]:
                continue
            if ch == '"':
                # a straight mark after a space, before a word, opens a nested quote
                nxt = text[i + 1] if i + 1 < len(text) else None
                if _is_space(prev) and not _is_space(nxt):
                    break
            elif ch == "’" and (_is_space(prev) or _plural_possessive(text, i)):
                break
            elif ch in "”›»" and mark == ch and _is_space(prev) and _can_open(text, i):
                break  # Swedish ”…” / »…«: a mark before a word opens a nested one
            del stack[depth:]
            if i > start + 1:
                pairs.append((start, i + 1))
            closed = True
            break
        if closed:
            continue
        # 2. else open a quotation, if the mark can open one here
        if ch in _CLOSERS and _can_open(text, i):
            stack.append((ch, i))
    return pairs, stack


def continued_quote(text: str) -> tuple[int, int] | None:
    """A quotation that goes on into the next paragraph: news style opens each
    paragraph of a long quote and closes only the last. `[start, end)` from the
    outermost double (or guillemet) mark left open to the end of the paragraph, when
    it does not overlap a closed quotation; None otherwise. Straight and single marks
    are too often something else to be trusted here."""
    pairs, stack = _scan(text)
    opened = [i for mark, i in stack if mark in "“„«»「『”"]
    if not opened:
        return None
    start, end = opened[0], len(text.rstrip())
    if end - start < 2 or any(a < end and b > start for a, b in pairs):
        return None
    return start, end


def propose_quotes(text: str) -> list[tuple[int, int]]:
    """Quotations in `text` as sorted, non-overlapping `[start, end)` offsets that
    include the quote marks. Only the outermost of nested quotations is given."""
    pairs = sorted(_pairs(text), key=lambda p: (p[0], -p[1]))
    out: list[tuple[int, int]] = []
    for start, end in pairs:
        if out and start < out[-1][1]:
            continue  # inside (pairs from one stack never cross) the previous one
        out.append((start, end))
    return out


def inner(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """The quoted words of a proposed quotation: without the marks and the spaces
    inside them (the schema's quote label marks "the quoted words only")."""
    start, end = span
    if end - start >= 2 and text[start] in QUOTE_MARKS and text[end - 1] in QUOTE_MARKS:
        start, end = start + 1, end - 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else span
