"""Textual's parsed CSS kept between launches (annotator/tui/css_cache.py): a kept
stylesheet draws exactly what Textual's own parse draws, a second launch of the real
entry point parses nothing, and a cache file that is not this user's own (another
owner, a symlink, a FIFO, writable by others) is never unpickled."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path

import pytest
from test_tui_adjudicate import _ready
from test_tui_helpers import keys
from test_tui_styled_once import _adjudicate, _annotate, _drawn
from textual.css.stylesheet import Stylesheet
from tmux_harness import Tmux, annotator_argv, demo_copy, have_tmux

from annotator.tui import css_cache


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch) -> Path:
    """A cache directory of this test's own, and the module as a fresh process has it
    (nothing read yet), put back afterwards."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    css_cache.install()  # the patch stays as it was; only what is kept starts afresh
    monkeypatch.setattr(css_cache, "_memo", {})
    monkeypatch.setattr(css_cache, "_used", set())
    monkeypatch.setattr(css_cache, "_dirty", False)
    monkeypatch.setattr(css_cache, "_variables", {})
    return tmp_path / "xdg" / "annotator" / "parse"


def _parses(monkeypatch) -> list[str]:
    """Counts Textual's own parses from here on."""
    calls: list[str] = []
    original = css_cache._original

    def counted(self, css, *args, **kwargs):
        calls.append(css[:40])
        return original(self, css, *args, **kwargs)

    monkeypatch.setattr(css_cache, "_original", counted)
    return calls


async def _frames(build, tmp_path: Path) -> tuple[list, list]:
    """The first frame, and the frame with the help dialog open (more widgets, more
    CSS parsed after the first frame)."""
    app = build(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(app, pilot)
        first = _drawn(app)
        await keys(app, pilot, "question_mark")
        await pilot.pause()
        help_open = _drawn(app)
    return first, help_open


@pytest.mark.parametrize("build", [_annotate, _adjudicate], ids=["annotate", "adjudicate"])
async def test_kept_rules_draw_what_textuals_own_parse_draws(build, tmp_path, own_cache,
                                                             monkeypatch):
    # Textual alone: its own parser, nothing kept
    with monkeypatch.context() as m:
        m.setattr(Stylesheet, "_parse_rules", css_cache._original)
        plain = await _frames(build, tmp_path / "plain")
    # a first launch: everything parsed, then kept in the file
    parsed = _parses(monkeypatch)
    cold = await _frames(build, tmp_path / "cold")
    assert parsed, "nothing went through the cache"
    css_cache.save()
    files = list(own_cache.glob("textual-css-*.pickle"))
    assert len(files) == 1
    assert stat.S_IMODE(os.stat(files[0]).st_mode) & 0o077 == 0  # this user's alone
    # a second launch: the rules come from the file (unpickled, not the objects above)
    monkeypatch.setattr(css_cache, "_memo", css_cache._load())
    assert css_cache._memo
    parsed.clear()
    mtime = files[0].stat().st_mtime_ns
    warm = await _frames(build, tmp_path / "warm")
    assert parsed == []  # no stylesheet parsed
    css_cache.save()
    assert files[0].stat().st_mtime_ns == mtime  # nothing new: not written again
    assert cold == plain
    assert warm == plain


async def test_a_changed_stylesheet_is_parsed_again(tmp_path, own_cache, monkeypatch):
    """Kept by content: the stylesheet changed by one declaration (at the same path)
    is parsed again, alone, and drawn as Textual draws it."""
    from annotator.tui.app import AnnotatorApp

    tcss = tmp_path / "annotator.tcss"
    tcss.write_text(AnnotatorApp.CSS_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(AnnotatorApp, "CSS_PATH", tcss)
    parsed = _parses(monkeypatch)
    before = await _frames(_annotate, tmp_path / "a")
    css_cache.save()
    monkeypatch.setattr(css_cache, "_memo", css_cache._load())
    tcss.write_text(tcss.read_text(encoding="utf-8") + "\n#position { background: red; }\n",
                    encoding="utf-8")
    parsed.clear()
    changed = await _frames(_annotate, tmp_path / "b")
    assert len(parsed) == 1  # the stylesheet alone; every widget's CSS was kept
    assert changed != before
    with monkeypatch.context() as m:
        m.setattr(Stylesheet, "_parse_rules", css_cache._original)
        assert changed == await _frames(_annotate, tmp_path / "plain")


def _planted(path: Path, marker: Path) -> bytes:
    """A pickle that, if ever loaded, creates `marker` (as an attacker's would run a
    command)."""
    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    data = pickle.dumps({("x",): Payload()})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def _other_uid() -> int:
    import pwd

    return pwd.getpwnam("nobody").pw_uid


def test_a_foreign_cache_file_is_never_unpickled(tmp_path, own_cache, monkeypatch):
    target = css_cache._cache_file()
    assert target is not None and target.parent == own_cache
    marker = tmp_path / "ran"
    _planted(target, marker)
    os.chmod(own_cache, 0o700)
    os.chmod(target, 0o600)
    # the control: this user's own file is read (so the cases below test the checks)
    css_cache._load()
    assert marker.exists()
    marker.unlink()

    # writable by the group, or by anyone
    for mode in (0o620, 0o602):
        os.chmod(target, mode)
        assert css_cache._load() == {} and not marker.exists()
    os.chmod(target, 0o600)
    # the directory writable by others (anyone could have swapped the file)
    os.chmod(own_cache, 0o777)
    assert css_cache._load() == {} and not marker.exists()
    os.chmod(own_cache, 0o700)
    # a symlink to a file of this user's that says the same
    elsewhere = tmp_path / "elsewhere.pickle"
    target.rename(elsewhere)
    target.symlink_to(elsewhere)
    assert css_cache._load() == {} and not marker.exists()
    target.unlink()
    # a FIFO: no hang, nothing read
    os.mkfifo(target)
    assert css_cache._load() == {} and not marker.exists()
    target.unlink()
    # another user's file (root can plant one; a careless chown does the same)
    if os.geteuid() != 0:
        pytest.skip("chown to another user needs root (CI runs as root)")
    elsewhere.rename(target)
    os.chown(target, _other_uid(), -1)
    assert css_cache._load() == {} and not marker.exists()


def test_an_unreadable_or_stale_file_costs_only_the_parse(tmp_path, own_cache):
    target = css_cache._cache_file()
    target.parent.mkdir(parents=True, mode=0o700)
    for junk in (b"", b"not a pickle", pickle.dumps(["a list"])[:5], pickle.dumps([1])):
        target.write_bytes(junk)
        os.chmod(target, 0o600)
        assert css_cache._load() == {}


@pytest.mark.tmux
@pytest.mark.skipif(not have_tmux(), reason="tmux is not installed")
def test_a_second_launch_of_the_entry_point_parses_no_css(tmp_path, request):
    """`annotator annotate` twice in a real terminal: the first keeps the parsed CSS,
    the second reads it and writes nothing (it parsed nothing new), and both screens
    are the same."""
    xdg = tmp_path / "xdg"
    env = {"XDG_CACHE_HOME": str(xdg)}
    project = demo_copy(tmp_path)
    argv = annotator_argv("annotate", "--project", str(project), "--as", "alice")
    screens = []
    for _ in range(2):
        with Tmux.for_test(request) as tmux:
            tmux.start(argv, env=env)
            tmux.wait_for("doc 1/", timeout=20)
            screens.append(tmux.wait_stable())
            tmux.send("q")
            tmux.wait_dead()
        kept = list((xdg / "annotator" / "parse").glob("textual-css-*.pickle"))
        assert len(kept) == 1
        if len(screens) == 1:
            first = kept[0].stat()
    again = kept[0].stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    # the import summary is said on the first launch only; the rest is the same
    assert screens[0].splitlines()[:10] == screens[1].splitlines()[:10]
