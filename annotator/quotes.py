"""Proposing quotations (and their sources) in a paragraph, for the span layer.

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

`propose_sources(text, quote)` proposes the speaker of a quotation: the name next to a
speech verb just after the quote (“…,” said Foreign Minister Elena Rusk.) or just
before it (Rusk told reporters: “…”; According to the ministry, “…”).
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
    return pairs


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


# --- sources --------------------------------------------------------------------

SPEECH_VERBS = (
    # English
    "said", "says", "told", "stated", "added", "stressed", "noted", "declared",
    "explained", "emphasized", "emphasised", "underlined", "insisted", "warned",
    "affirmed", "asserted", "remarked", "announced", "wrote", "tweeted", "argued",
    "continued", "concluded", "recalled", "commented", "replied", "responded", "observed", "pointed out",
    # Spanish, Portuguese
    "dijo", "afirmó", "declaró", "señaló", "añadió", "agregó", "subrayó", "aseguró",
    "indicó", "expresó", "manifestó", "destacó", "sostuvo", "disse", "afirmou",
    "declarou",
    # French
    "a déclaré", "a dit", "a affirmé", "a ajouté", "a souligné", "a indiqué",
    "a estimé", "a expliqué", "déclare", "affirme", "a-t-il dit", "a-t-il déclaré",
    "a-t-elle dit", "a-t-elle déclaré",
    # German, Russian
    "sagte", "erklärte", "betonte", "fügte hinzu", "заявил", "заявила", "сказал",
    "сказала", "отметил", "отметила", "подчеркнул", "подчеркнула",
)
_VERBS = "|".join(sorted((re.escape(v).replace(r"\ ", r"\s+") for v in SPEECH_VERBS),
                         key=len, reverse=True))
_ACCORDING = r"(?:according\s+to|según|selon|laut|по\s+словам)"
# lower-case words that may sit inside a name or a title ("Minister of Foreign
# Affairs", "José de San Martín", "a source in the diplomatic corps")
_CONNECT = {"of", "the", "for", "and", "de", "del", "la", "le", "les", "du", "des", "y",
            "von", "van", "der", "al", "bin", "da", "do", "dos", "in", "on"}
_DETERMINERS = {"the", "a", "an", "el", "la", "los", "las", "un", "una", "le", "les",
                "une", "der", "die", "das", "ein", "eine"}
_PRONOUNS = {"he", "she", "they", "it", "we", "i", "él", "ella", "il", "elle", "er",
             "sie", "он", "она"}
# words that end a source phrase: relative pronouns, prepositions of time and place,
# auxiliaries ("the ambassador had said")
_STOP = {"who", "that", "which", "on", "at", "during", "after", "before", "while", "when",
         "to", "had", "has", "have", "was", "were", "is", "would", "will", "also", "then",
         "later", "en", "lors", "à", "au", "ha", "había", "avait", "hatte", "hat", "que",
         "qui", "con", "avec", "mit", "with", "from", "por", "par"}
_TOKEN = re.compile(r"[^\W\d_][\w.’'-]*|\d+")


def _name_at(text: str, pos: int, limit: int) -> tuple[int, int] | None:
    """The name (capitalised words with connectors, or a determiner phrase like "the
    ministry") starting at `pos` (after spaces), ending before punctuation."""
    m = re.compile(r"\s*").match(text, pos)
    pos = m.end() if m else pos
    tokens: list[tuple[int, int, str]] = []
    i = pos
    while i < limit:
        t = _TOKEN.match(text, i)
        if t is None:
            break
        word = t.group().rstrip(".’'")
        if not word:
            break
        tokens.append((t.start(), t.start() + len(word), word))
        nxt = t.end()
        if text[t.start() + len(word):nxt] in (".",) and nxt < limit and \
                text[nxt:nxt + 1] == " " and word[:1].isupper() and len(word) <= 3:
            tokens[-1] = (t.start(), nxt, word + ".")  # an initial or "Mr." / "Dr."
        sp = re.compile(r"[ \u00a0]+").match(text, nxt)
        if sp is None or len(tokens) >= 8:
            break
        i = sp.end()
    if not tokens:
        return None
    first = tokens[0][2]
    if first.lower() in _PRONOUNS:
        return None
    keep: list[tuple[int, int, str]] = []
    if first.lower() in _DETERMINERS:
        # "the ministry", "a source in the diplomatic corps", "la canciller Carla
        # Montes": up to 7 words; after a capitalised name, only connectors go on
        named = False
        for n, tok in enumerate(tokens[:7]):
            w = tok[2]
            if n and (w.lower() in _STOP or (named and not w[:1].isupper()
                                              and w.lower() not in _CONNECT)):
                break
            named = named or (n > 0 and w[:1].isupper())
            keep.append(tok)
    else:
        for tok in tokens:
            w = tok[2]
            if w[:1].isupper() or (w.lower() in _CONNECT and keep):
                keep.append(tok)
            else:
                break
    while keep and (keep[-1][2].lower() in _CONNECT or keep[-1][2].lower() in _DETERMINERS):
        keep.pop()
    if not keep or (len(keep) == 1 and keep[0][2].lower() in _DETERMINERS):
        return None
    return keep[0][0], keep[-1][1]


def _name_before(text: str, end: int, start_limit: int) -> tuple[int, int] | None:
    """The name that ends at `end` (before a speech verb), up to 8 words back:
    capitalised words with connectors ("Foreign Minister Elena Rusk"), or a short
    phrase after a determiner ("the ministry", "a diplomatic source")."""
    words = list(_TOKEN.finditer(text, start_limit, end))
    cap_first: int | None = None
    lower = 0
    boundary = end
    for w in reversed(words[-8:]):
        if text[w.end():boundary].strip(" \u00a0"):
            break  # punctuation between words ends the name
        boundary = w.start()
        word = w.group().rstrip(".’'")
        if word.lower() in _DETERMINERS:
            return _name_at(text, w.start(), end) if lower <= 3 else None
        if lower == 0 and (word[:1].isupper() or word.lower() in _CONNECT):
            cap_first = w.start()
        else:
            lower += 1
            if lower > 3:
                break
    return _name_at(text, cap_first, end) if cap_first is not None else None


def propose_sources(text: str, quote: tuple[int, int]) -> list[tuple[int, int]]:
    """Candidate source spans for the quotation `quote`, best first (may be empty).

    Looks for a speech verb right after the quote (“…,” said X / “…,” X said) and
    right before it (X said: “…” / According to X, “…”). Pronouns are not proposed.
    """
    start, end = quote
    out: list[tuple[int, int]] = []
    after_limit = min(len(text), end + 160)
    # 1. “…,” said Foreign Minister Elena Rusk. / “…”, dijo el canciller.
    m = re.compile(rf"[\s,.;:!?—–-]*(?:{_VERBS})\b", re.IGNORECASE).match(text, end)
    if m:
        stop = _clause_end(text, m.end(), after_limit)
        span = _name_at(text, m.end(), stop)
        if span:
            out.append(span)
    # 2. “…,” Rusk said. / “…,” the Vice Minister told reporters.
    m = re.compile(r"[\s,.;:!?—–-]*").match(text, end)
    pos = m.end() if m else end
    stop = _clause_end(text, pos, after_limit)
    v = re.compile(rf"\s(?:{_VERBS})\b", re.IGNORECASE).search(text, pos, stop)
    if v and v.start() - pos < 80:
        span = _name_before(text, v.start(), pos)
        gap = text[pos:span[0]] if span else ""
        if span and re.fullmatch(r"(?:[^\W\d_]+[ \u00a0]+){0,3}", gap):
            # "ministry spokesman Ivo Radl": a lower-case title belongs to the name
            out.append((pos, span[1]))
    # 3. Rusk told reporters: “…” / According to the ministry, “…”
    before_start = max(0, start - 200)
    head = text[before_start:start]
    clause_start = before_start + max(head.rfind(". "), head.rfind("; "), -1) + 1
    matches = list(re.finditer(rf"{_ACCORDING}\s", text[clause_start:start], re.IGNORECASE))
    if matches:
        a = matches[-1]
        span = _name_at(text, clause_start + a.end(), start)
        if span:
            out.append(span)
    matches = list(re.finditer(rf"(?:^|\s)(?:{_VERBS})\b", text[clause_start:start],
                               re.IGNORECASE))
    if matches:
        last = matches[-1]
        span = _name_before(text, clause_start + last.start(), clause_start)
        if span:
            out.append(span)
    seen: list[tuple[int, int]] = []
    for s in out:
        if s not in seen and (s[1] <= start or s[0] >= end):
            seen.append(s)
    return seen


def _clause_end(text: str, pos: int, limit: int) -> int:
    m = re.compile(r"[.;:!?\n“”\"«»„]|,\s").search(text, pos, limit)
    return m.start() if m else limit
