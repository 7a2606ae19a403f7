"""Nothing from an article reaches the terminal as an escape sequence: the raw bytes.

`tests/test_tmux.py` checks what the screen shows. Here the bytes the terminal
received are recorded (`tmux pipe-pane`) from the app's first byte to its last, while
an annotator walks through every unit of two hostile documents (tests/data/hostile/:
CSI, OSC title / clipboard / hyperlink, DCS/APC/PM/SOS, 8-bit C1, bidi overrides,
zero-width characters, Rich markup and action links, C0 controls), opens the help with
a hostile schema, and searches for hostile text. The stream is compared with the
stream of the same session on a clean corpus: every OSC/DCS string, every kind of
CSI and every other escape in it must be one the app also emits on clean text, and
no C1 control, bidi control, BEL or `pwned` payload may appear at all.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from tmux_harness import PANE_TITLE, ROOT, RecordingTmux, Tmux, annotator_argv, have_tmux
from tmux_harness import settled as _settled

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(not have_tmux(), reason="tmux is not installed"),
]

DATA = Path(__file__).parent / "data" / "hostile"

# Typed into the search box: markup, an action link, a bidi override, C1 and
# zero-width characters (tmux sends them as UTF-8).
TYPED = "[@click=app.quit]go[/] [bold]x \u202eevil \u009b31m \u009d0;pwned\u009c zw\u200b"
POSITION = re.compile(r"doc \d+/\d+ ")
HELP_SHOWN = "cursor to next word"

# --- what the terminal received --------------------------------------------------------

# OSC, DCS, SOS, PM and APC strings, ended by BEL or ST (or unterminated)
STRING_SEQ = re.compile(r"\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?")
CSI_SEQ = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
C1_OR_BAD_BYTE = re.compile("[\x80-\x9f\udc80-\udcff]")  # C1 code points, non-UTF-8 bytes
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _csi_kind(seq: str) -> str:
    """Colours and cursor moves differ with the text shown: their kind is the final
    byte. Any other CSI (modes, queries, scrolling margins ...) is kept exactly."""
    return f"CSI ...{seq[-1]}" if seq[-1] in "mABCDEFGHfKJX" else seq


def profile(raw: bytes) -> dict:
    text = raw.decode("utf-8", "surrogateescape")
    strings = STRING_SEQ.findall(text)
    rest = STRING_SEQ.sub("", text)
    csi = {_csi_kind(s) for s in CSI_SEQ.findall(rest)}
    rest = CSI_SEQ.sub("", rest)
    return {
        "text": text,
        "strings": set(strings),
        "csi": csi,
        "other_esc": set(re.findall(r"\x1b.?", rest, re.S)),
        "bel_outside_strings": rest.count("\x07"),
        "c1": C1_OR_BAD_BYTE.findall(text),
        "bidi": BIDI.findall(text),
    }


def assert_nothing_hostile(hostile: dict, clean: dict) -> None:
    assert hostile["strings"] <= clean["strings"], hostile["strings"] - clean["strings"]
    assert hostile["csi"] <= clean["csi"], hostile["csi"] - clean["csi"]
    assert hostile["other_esc"] <= clean["other_esc"], hostile["other_esc"] - clean["other_esc"]
    assert not any("pwned" in s or "evil" in s for s in hostile["strings"])
    assert hostile["bel_outside_strings"] == 0
    assert not hostile["c1"], hostile["c1"][:10]
    assert not hostile["bidi"], hostile["bidi"][:10]


# --- one session -----------------------------------------------------------------------

def _units(tmux: Tmux, screen: str) -> tuple[str, str]:
    m = re.search(r"doc (\d+)/\d+ .*?(title|¶\d+/\d+)", screen)
    assert m, screen
    return m.group(1), m.group(2)


def session(tmux: RecordingTmux, project: Path, corpus: Path, raw: Path, units: int,
            schema: Path | None = None, paste: str | None = None) -> list[str]:
    """Open the corpus, press j through `units` units, open the help, search for TYPED
    text (and paste `paste` into the search box), quit. Returns the screens seen."""
    argv = annotator_argv("annotate", str(corpus), "--project", str(project), "--as", "alice",
                          *(["--schema", str(schema)] if schema else []))
    tmux.start_recorded(argv, raw, cwd=project)
    screens = [tmux.wait_for(POSITION, timeout=30)]
    seen = {_units(tmux, screens[0])}
    for _ in range(units - 1):
        before = _units(tmux, screens[-1])
        tmux.send("j")
        screens.append(tmux.wait_for(
            lambda s, before=before: POSITION.search(s) is not None and _units(tmux, s) != before))
        seen.add(_units(tmux, screens[-1]))
    assert len(seen) == units, seen  # every unit was in focus once
    tmux.send("?")
    screens.append(tmux.wait_for(HELP_SHOWN))
    tmux.send("Escape")
    tmux.wait_for(lambda s: HELP_SHOWN not in s)
    tmux.send("/")
    tmux.wait_for("Search text")
    tmux.type(TYPED)
    if paste is not None:
        tmux.paste(paste)
    screens.append(tmux.wait_stable())
    tmux.send("Enter")
    screens.append(tmux.wait_for("not found"))
    tmux.send("q")
    tmux.wait_dead(timeout=15)
    assert tmux.pane_title() == PANE_TITLE
    return screens


def hostile_schema(tmp_path: Path) -> Path:
    """The default schema with escapes, C1, bidi and markup in the strings the help
    screen shows (they are valid: only ids and keys have a pattern)."""
    text = (ROOT / "schemas" / "framing-devices.yaml").read_text(encoding="utf-8")
    text = text.replace("name: Devices", 'name: "Dev \\e]0;pwned\\a [@click=app.quit]q[/]"', 1)
    text = text.replace("title: Framing devices in news on diplomacy, alliances and sanctions",
                        'title: "\\e]2;pwned\\e\\\\ T \\x9b2J"', 1)
    text = text.replace("name: Positive", 'name: "Pos \\u202eevil\\u202c \\x9d0;pwned\\x9c"', 1)
    text = text.replace('- "Foreign Minister Elena Rusk"',
                        '- "\\e]8;;https://evil.example/\\e\\\\link\\e]8;;\\e\\\\ \\e[2J"', 1)
    path = tmp_path / "hostile-schema.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def tmux(request: pytest.FixtureRequest):
    with RecordingTmux.for_test(request) as t:
        yield t


@pytest.fixture(scope="module")
def clean_profile(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What the app sends on a clean corpus and schema, through the same session."""
    tmp = tmp_path_factory.mktemp("clean")
    project = tmp / "proj"
    (project / "corpus").mkdir(parents=True)
    (project / "corpus" / "clean.txt").write_text(
        "A clean title\n\nFirst clean paragraph.\n\nSecond clean paragraph.\n", encoding="utf-8")
    t = RecordingTmux("clean")
    try:
        raw = tmp / "clean.raw"
        session(t, project, project / "corpus", raw, units=3)
        data = _settled(raw)
    finally:
        t.close()
    prof = profile(data)
    print(f"\nclean session: {len(data):,} bytes; string sequences {sorted(prof['strings'])}; "
          f"CSI kinds {len(prof['csi'])}; other escapes {sorted(prof['other_esc'])}")
    assert not prof["c1"] and not prof["bidi"] and prof["bel_outside_strings"] == 0
    return prof


def test_hostile_text_never_reaches_the_terminal_raw(tmux: RecordingTmux, tmp_path: Path,
                                                     clean_profile: dict):
    project = tmp_path / "proj"
    shutil.copytree(DATA, project / "corpus")
    raw = tmp_path / "hostile.raw"
    screens = session(tmux, project, project / "corpus", raw, units=22,
                      schema=hostile_schema(tmp_path))
    data = _settled(raw)
    prof = profile(data)
    print(f"\nhostile session: {len(data):,} bytes; string sequences {sorted(prof['strings'])}; "
          f"CSI kinds {len(prof['csi'])}; other escapes {sorted(prof['other_esc'])}; "
          f"C1 {len(prof['c1'])}; bidi {len(prof['bidi'])}")
    assert_nothing_hostile(prof, clean_profile)
    # the hostile text was on screen, as visible symbols (a row drawn in pieces, cut
    # where widgets meet, is joined again: cursor moves and styles taken out)
    shown = re.sub(r"\x1b\[[0-9;]*[mH]", "", prof["text"])
    for visible in ("␛]0;pwned␇", "␛]52;c;cHduZWQ=␇", "␛]8;;https://evil.example/pwned␛\\",
                    "\ufffd31m 8-bit CSI", "␛Pq#0;2;0;0;0␛\\", "[@click=app.quit]go[/]",
                    "NUL␀ BEL␇ BS␈", "\ufffdoverride\ufffd", "Dev ␛]0;pwned␇",
                    "Pos \ufffdevil\ufffd", "not found: "):
        assert visible in shown, visible
    assert any("hostile␛[31m-doc" in s for s in screens)


def test_pasted_controls_never_reach_the_terminal_raw(tmux: RecordingTmux, tmp_path: Path,
                                                      clean_profile: dict):
    project = tmp_path / "proj"
    (project / "corpus").mkdir(parents=True)
    (project / "corpus" / "a.txt").write_text("Title\n\nOne.\n\nTwo.\n", encoding="utf-8")
    raw = tmp_path / "paste.raw"
    session(tmux, project, project / "corpus", raw, units=3,
            paste="A\u009b31mB\u009d0;pwned\u009cC\u202eevil\u202cD\x07E")
    assert_nothing_hostile(profile(_settled(raw)), clean_profile)


# --- bytes forged into the stores (issue: team server) -----------------------------------

FORGED = ("F \x1b]0;pwned\x07 \x1b]52;c;cHduZWQ=\x07 \x1b[2J \x9b31m \x9d0;pwned\x9c "
          "\u202eevil\u202c \x1bP1$r\x1b\\ end")


FORGED_ID = "\x1b]0;pwned\x07"  # appended to the document id, in both stores


def _forge_corpus(project: Path) -> None:
    """What a group member could do with sqlite3 to a group-writable corpus.db: escape
    sequences in titles, paragraphs, ids and meta, past the import's cleaning."""
    import sqlite3

    conn = sqlite3.connect(project / ".annotator" / "corpus.db")
    with conn:
        conn.execute("UPDATE documents SET title = ?, meta = ?, id = id || ?",
                     (f"Title {FORGED}", json.dumps({"source": FORGED}), FORGED_ID))
        conn.execute("UPDATE units SET text = text || ?", (f" {FORGED}",))
    conn.close()


def _forge_journal(path: Path) -> None:
    """... and to a journal: a note and a span whose text carries escapes."""
    import sqlite3

    span = {"id": "s1", "layer": "quotes", "label": "quote", "start": 0, "end": 5,
            "text": FORGED, "attributes": {}}
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE units SET state = json_set(state, '$.note', ?, '$.spans', "
                     "json(?)), doc_id = doc_id || ?", (FORGED, json.dumps([span]), FORGED_ID))
        conn.execute("DELETE FROM meta WHERE key = 'position'")
    conn.close()


def test_escape_bytes_forged_into_the_stores_never_reach_the_terminal(
        tmux: RecordingTmux, tmp_path: Path, clean_profile: dict) -> None:
    project = tmp_path / "proj"
    (project / "corpus").mkdir(parents=True)
    (project / "corpus" / "clean.txt").write_text(
        "A clean title\n\nFirst clean paragraph.\n\nSecond clean paragraph.\n", encoding="utf-8")
    # alice's first session: the corpus imported, every unit annotated
    tmux.start(annotator_argv("annotate", str(project / "corpus"), "--project", str(project),
                              "--as", "alice"), cwd=project)
    tmux.wait_for(POSITION, timeout=30)
    for _ in range(3):
        tmux.send("Enter")
        tmux.wait_stable(quiet=0.15)
    tmux.send("q")
    tmux.wait_dead()
    from annotator.store.sqlite import SQLiteStore

    store = SQLiteStore(project / ".annotator")
    journal_path = Path(store.journal("alice").path)
    store.close()
    _forge_corpus(project)
    _forge_journal(journal_path)
    # her next session, recorded from its first byte
    raw = tmp_path / "forged.raw"
    screens = session(tmux, project, project / "corpus", raw, units=3)
    prof = profile(_settled(raw))
    assert_nothing_hostile(prof, clean_profile)
    assert "pwned" not in tmux.pane_title()
    # the forged text was drawn, as visible symbols: title, paragraph, span text, note
    flat = " ".join(screens)
    assert "␛]0;pwned␇" in flat, screens[0]
    assert "Title F ␛]0;pwned␇" in flat
    assert "✎" in flat  # the note line
