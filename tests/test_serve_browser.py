"""`annotator serve` in a real browser: Debian's Chromium, headless, driven by
Playwright (system browser through `executable_path`; .ci/run installs `chromium`).

Log in, see the first paragraph, toggle a label, close the tab: the app process ends
and `annotator export` has the label. bob, logged in beside alice while blind, sees
none of her work. A screenshot of the browser's screen is kept under pytest's tmp
directory (its path is printed: `pytest -s` shows it).
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest
from serve_util import (
    Server,
    add_user,
    browser,
    browser_login,
    browsers,
    demo_project,
    have_browser,
    run_cli,
    wait_screen,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not have_browser(), reason="no /usr/bin/chromium or no playwright "
                                                  "(.ci/run installs both)"),
]

FIRST_TITLE = "Kestrania envía 40 toneladas de ayuda humanitaria"  # the first unit
FIRST_PARAGRAPH = "El cargamento incluye medicamentos"
POSITION = r"doc 1/\d+ .*annotated 0/55"
SOVEREIGNTY_ON = r"s \[x\] Sover"
SOVEREIGNTY_OFF = r"s \[ \] Sover"


def _gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                   for p in pids):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def project(tmp_path: Path):
    root = demo_project(tmp_path)
    return root, {n: add_user(root, n) for n in ("alice", "bob")}


def test_alice_annotates_in_the_browser_and_the_export_has_it(project, tmp_path: Path):
    root, secrets = project
    with Server(root) as server, browser(tmp_path) as ctx:
        page = browser_login(ctx, server.url, "alice", secrets["alice"])
        text = wait_screen(page, POSITION)
        assert FIRST_TITLE in text and FIRST_PARAGRAPH in text
        assert "alice" in page.inner_text("nav")
        assert page.evaluate("document.body.classList.contains('-first-byte')")  # drawn
        assert page.evaluate("document.cookie") == ""  # HttpOnly: no script reads it
        pids = server.app_pids()
        assert len(pids) == 1
        page.click("#terminal")
        page.keyboard.press("s")
        wait_screen(page, SOVEREIGNTY_ON)
        shot = tmp_path / "serve-alice.png"
        page.screenshot(path=str(shot))
        print(f"\nscreenshot of the browser: {shot}")
        assert shot.stat().st_size > 10_000
        page.close()  # the tab closed: the app ends within seconds
        assert _gone(pids, 5), "the app outlived its tab"
    out = run_cli("export", "--annotator", "alice", "--out", "-", cwd=root, check=True)
    import json

    records = [json.loads(line) for line in out.stdout.splitlines()]
    labelled = [r for r in records if "sovereignty" in json.dumps(r["annotations"])]
    assert len(labelled) == 1, records


def test_bob_cannot_see_alices_work_while_blind(project, tmp_path: Path):
    root, secrets = project
    with Server(root) as server, browsers(tmp_path) as chromium:
        alice = browser_login(chromium.context(), server.url, "alice", secrets["alice"])
        wait_screen(alice, POSITION)
        alice.click("#terminal")
        alice.keyboard.press("s")
        wait_screen(alice, SOVEREIGNTY_ON)
        alice.keyboard.press("Enter")  # annotated, next unit
        wait_screen(alice, r"annotated 1/55")
        # bob in another browser profile: his own cookie, his own journal
        bob = browser_login(chromium.context(), server.url, "bob", secrets["bob"])
        text = wait_screen(bob, POSITION)
        assert "bob" in bob.inner_text("nav")
        assert "[x]" not in text and "annotated 0/55" in text
        assert len(server.app_pids()) == 2
        argvs = sorted(psutil.Process(p).cmdline()[-1] for p in server.app_pids())
        assert argvs == ["--as=alice", "--as=bob"]
        # bob's page has no way to adjudicate (he is no curator)
        response = bob.goto(server.url + "adjudicate")
        assert response.status == 403


def test_a_second_tab_takes_over_the_first(project, tmp_path: Path):
    root, secrets = project
    with Server(root) as server, browser(tmp_path) as ctx:
        first = browser_login(ctx, server.url, "alice", secrets["alice"])
        wait_screen(first, POSITION)
        before = server.app_pids()
        second = ctx.new_page()  # same profile: the same cookie
        second.goto(server.url)
        wait_screen(second, POSITION)
        wait_screen(first, r"opened in another tab")
        first.wait_for_function("() => document.body.classList.contains('-closed')",
                                timeout=10_000)
        assert _gone(before, 5)
        assert len(server.app_pids()) == 1
