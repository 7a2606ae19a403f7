"""`annotator serve` without a browser: users, cookies, the rate limit, and every
refusal at the HTTP and websocket level against the real server in a subprocess.

The browser itself (log in, annotate, close the tab) is tests/test_serve_browser.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from serve_util import Screen, Server, add_user, demo_project, http, login, run_cli

from annotator.serve import cookies, users
from annotator.serve.access import app_argv, check_bind
from annotator.serve.ratelimit import FailureLimit

aiohttp = pytest.importorskip("aiohttp")

TEAM = """team:
  lead: {me}
  annotators:
    alice: {me}
    bob: {me}
    cora: {me}
    dave: somebody-else
  curators: [cora]
"""


def me() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


# --- users, cookies, limits (the core) --------------------------------------------------

def test_add_user_prints_the_secret_once_and_stores_a_salted_hash(tmp_path: Path):
    root = demo_project(tmp_path)
    r = run_cli("serve", "--add-user", "alice", cwd=root, check=True)
    secret = r.stdout.strip().splitlines()[-1]
    assert len(secret) >= 24 and "shown only now" in r.stdout
    other = add_user(root, "bob")
    path = root / ".annotator" / "serve-users"
    text = path.read_text()
    assert secret not in text and other not in text  # only hashes
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.geteuid()
    loaded = users.load_users(path)
    assert users.check_secret(loaded["alice"].record, secret)
    assert not users.check_secret(loaded["alice"].record, other)
    assert not users.check_secret(None, secret)
    # the same secret under two salts gives two hashes
    assert users.hash_secret("x") != users.hash_secret("x")
    again = run_cli("serve", "--add-user", "alice", cwd=root)
    assert again.returncode == 1 and "has a secret already" in again.stderr
    assert users.load_users(path)["alice"] == loaded["alice"]  # unchanged
    listed = run_cli("serve", "--list-users", cwd=root, check=True).stdout
    assert listed.splitlines() == ["alice\tannotate", "bob\tannotate"]
    run_cli("serve", "--remove-user", "bob", cwd=root, check=True)
    assert run_cli("serve", "--list-users", cwd=root).stdout.split() == ["alice", "annotate"]
    bad = run_cli("serve", "--add-user", "../x", cwd=root)
    assert bad.returncode == 1 and "invalid annotator name" in bad.stderr
    assert run_cli("serve", "--add-user", "gold", cwd=root).returncode == 1


def test_a_symlink_or_readable_users_file_is_refused_never_followed(tmp_path: Path):
    root = demo_project(tmp_path)
    empty = run_cli("serve", "--list-users", cwd=root)
    assert empty.returncode == 0 and empty.stdout == "" and "--add-user" in empty.stderr
    path = root / ".annotator" / "serve-users"
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    path.symlink_to(target)
    r = run_cli("serve", "--add-user", "alice", cwd=root)
    assert r.returncode == 1 and "symbolic link" in r.stderr and "Traceback" not in r.stderr
    assert target.read_text() == "precious\n" and path.is_symlink()
    path.unlink()
    add_user(root, "alice")
    os.chmod(path, 0o644)
    r = run_cli("serve", "--list-users", cwd=root)
    assert r.returncode == 1 and "chmod 600" in r.stderr
    os.chmod(path, 0o600)
    assert run_cli("serve", "--list-users", cwd=root).returncode == 0
    assert not list((root / ".annotator").glob(".serve-users*"))  # no temporary left


def test_cookies_are_signed_bound_to_the_secret_and_expire():
    key, fp = cookies.new_key(), b"f" * 16
    value = cookies.make_cookie(key, "alice", fp, max_age=60)
    assert cookies.read_cookie(key, value, lambda n: fp) == "alice"
    assert cookies.read_cookie(cookies.new_key(), value, lambda n: fp) is None  # other key
    assert cookies.read_cookie(key, value.replace("alice", "bob", 1), lambda n: fp) is None
    assert cookies.read_cookie(key, value, lambda n: b"g" * 16) is None  # a new secret
    assert cookies.read_cookie(key, value, lambda n: None) is None  # user removed
    assert cookies.read_cookie(key, value, lambda n: fp, now=time.time() + 61) is None
    assert cookies.read_cookie(key, "garbage", lambda n: fp) is None
    header = cookies.cookie_header(value, 60, secure=True)
    for attr in ("HttpOnly", "SameSite=Strict", "Secure", "Max-Age=60", "Path=/"):
        assert attr in header


def test_failed_logins_are_limited_per_name_and_per_client():
    now = [0.0]
    limit = FailureLimit(per_name=3, per_client=5, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert limit.blocked("alice", "a") == 0
        limit.failed("alice", "a")
    assert limit.blocked("alice", "b") > 0  # the name, from anywhere
    assert limit.blocked("bob", "a") == 0
    limit.failed("bob", "a")
    limit.failed("carol", "a")
    assert limit.blocked("dave", "a") > 0  # five failures from one client
    assert limit.blocked("dave", "c") == 0
    now[0] = 61
    assert limit.blocked("alice", "a") == 0
    # asking about names never tried does not grow the table (a flood of names from
    # a blocked client used to add an entry each)
    size = len(limit._fails)
    for k in range(1000):
        limit.blocked(f"name{k}", "a")
    assert len(limit._fails) <= size
    # an attempt counts at once; a success takes its client entry back
    at = limit.attempt("erin", "z")
    assert len(limit._recent(("client", "z"))) == 1
    limit.succeeded("erin", "z", at)
    assert limit.blocked("erin", "z") == 0 and not limit._recent(("client", "z"))


def test_logins_sent_at_once_are_all_counted(tmp_path: Path):
    """Parallel wrong logins cannot all pass the limit before any is counted."""
    from concurrent.futures import ThreadPoolExecutor

    root = demo_project(tmp_path)
    add_user(root, "alice")
    with Server(root) as server, ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(lambda _: http(server.url + "login", {
            "name": "carol", "secret": "no"})[0], range(12)))
    assert codes.count(403) <= 5 and codes.count(429) >= 7, codes


def test_the_command_is_fixed_and_non_loopback_needs_public(tmp_path: Path):
    argv = app_argv(tmp_path, "alice", "annotate")
    assert argv[1:] == ["-m", "annotator", "annotate", "--project", str(tmp_path),
                        "--as=alice"]
    with pytest.raises(ValueError):
        app_argv(tmp_path, "alice", "export")
    assert check_bind("127.0.0.1", False) is None and check_bind("::1", False) is None
    assert check_bind("localhost", False) is None
    assert "TLS" in check_bind("0.0.0.0", False) and check_bind("0.0.0.0", True) is None
    r = run_cli("serve", "--host", "0.0.0.0", cwd=tmp_path)
    assert r.returncode == 2 and "--public" in r.stderr and "TLS" in r.stderr


def test_serve_without_users_or_without_the_extra_says_so(tmp_path: Path):
    root = demo_project(tmp_path)
    r = run_cli("serve", "--port", "0", cwd=root)
    assert r.returncode == 1 and "--add-user" in r.stderr
    add_user(root, "alice")
    code = ("import sys; sys.modules['aiohttp'] = None; from annotator.cli import main; "
            "sys.exit(main(['serve', '--port', '0']))")
    r = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "pip install 'annotator[serve]'" in r.stderr
    assert "Traceback" not in r.stderr


def test_pages_escape_what_they_show_and_carry_no_inline_script():
    from annotator.serve import pages

    hostile = '<img src=x onerror=alert(1)>"\''
    html = pages.app_page(hostile, hostile, 'ws://h/ws/annotate"><script>x()</script>',
                          curator=True)
    assert "<img" not in html and "<script>x()" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/textual/js/textual.js">']
    login_html = pages.login_page(hostile, project=hostile)
    assert "<img" not in login_html and "<script" not in login_html
    assert "<img" not in pages.message_page(hostile, hostile)


# --- the real server -------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A team project (every browser name mapped to this login; cora a curator; dave
    mapped to another login), its secrets, and the server."""
    tmp = tmp_path_factory.mktemp("serve")
    root = demo_project(tmp, TEAM.format(me=me()))
    secrets = {n: add_user(root, n) for n in ("alice", "bob", "cora", "dave")}
    with Server(root) as server:
        server.root, server.secrets = root, secrets
        yield server


def test_every_route_refuses_a_request_without_a_valid_cookie(served):
    base = served.url
    listed = dict(line.split("\t") for line in run_cli(
        "serve", "--list-users", cwd=served.root, check=True).stdout.splitlines())
    assert listed["alice"] == "annotate" and listed["cora"] == "annotate, adjudicate"
    assert listed["dave"].startswith("cannot log in: dave is not mapped to")
    assert "warning: dave cannot log in" in served.output()  # said at start
    for path in ("", "adjudicate", "static/textual/js/textual.js", "ws/annotate",
                 "static/textual/css/xterm.css", "nowhere"):
        status, headers, body = http(base + path)
        assert status == 403, path
    status, headers, body = http(base)
    assert 'action="/login"' in body  # a browser sees the login form
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert http(base + "login")[0] == 200
    good = login(base, "alice", served.secrets["alice"])
    assert good and good.startswith("annotator_session=alice.")
    status, _, body = http(base, cookie=good)
    assert status == 200 and "alice" in body and "/ws/annotate" in body
    assert http(base + "static/textual/js/textual.js", cookie=good)[0] == 200
    # not a curator: no adjudication page
    assert http(base + "adjudicate", cookie=good)[0] == 403
    cora = login(base, "cora", served.secrets["cora"])
    status, _, body = http(base + "adjudicate", cookie=cora)
    assert status == 200 and "/ws/adjudicate" in body


def test_wrong_secret_forged_cookie_and_anothers_name_are_refused(served):
    base = served.url
    status, _, body = http(base + "login", {"name": "alice", "secret": "wrong"})
    assert status == 403 and "Wrong name or secret" in body
    status, _, body = http(base + "login", {"name": "nobody", "secret": "x"})
    assert status == 403 and "Wrong name or secret" in body
    # alice's secret for bob's name
    assert login(base, "bob", served.secrets["alice"]) is None
    # dave is mapped to another login: his app could not act as him here
    status, _, body = http(base + "login", {"name": "dave", "secret": served.secrets["dave"]})
    assert status == 403 and "cannot be served" in body
    good = login(base, "alice", served.secrets["alice"])
    value = good.split("=", 1)[1]
    name, expiry, nonce, sig = value.split(".")
    forged = [f"annotator_session=bob.{expiry}.{nonce}.{sig}",  # alice's cookie, bob's name
              f"annotator_session=alice.{int(expiry) + 9999}.{nonce}.{sig}",
              f"annotator_session=alice.{expiry}.{nonce}.{'A' * len(sig)}",
              "annotator_session=alice"]
    for cookie in forged:
        assert http(base, cookie=cookie)[0] == 403, cookie
        assert http(base + "static/textual/js/textual.js", cookie=cookie)[0] == 403
    # a login form posted from another site's page
    status, _, _ = http(base + "login", {"name": "alice", "secret": served.secrets["alice"]},
                        headers={"Origin": "http://evil.example"})
    assert status == 403
    # a logged-out cookie is dead on the server, not only cleared in the browser
    assert http(base, cookie=good)[0] == 200
    status, headers, _ = http(base + "logout", cookie=good)
    assert status == 303 and "Max-Age=0" in headers["Set-Cookie"]
    assert http(base, cookie=good)[0] == 403
    again = login(base, "alice", served.secrets["alice"])
    assert again != good and http(base, cookie=again)[0] == 200


def test_untrusted_names_never_reach_the_page_or_console_raw(served):
    base = served.url
    for name in ("<script>alert(1)</script>", "\x1b[31mred\x1b]0;title\x07"):
        status, _, body = http(base + "login", {"name": name, "secret": "x"})
        assert status == 403 and "<script>alert" not in body
    log = served.output()
    assert "\x1b" not in log and "\x07" not in log
    assert "failed login for" in log


def test_failed_logins_are_rate_limited(tmp_path: Path):
    root = demo_project(tmp_path)
    secret = add_user(root, "alice")
    with Server(root) as server:
        for _ in range(5):
            assert http(server.url + "login", {"name": "alice", "secret": "no"})[0] == 403
        status, headers, body = http(server.url + "login", {"name": "alice",
                                                            "secret": secret})
        assert status == 429 and int(headers["Retry-After"]) > 0
        assert "Too many failed logins" in body


# --- the websocket --------------------------------------------------------------------

async def _ws(url: str, cookie: str | None, path: str = "ws/annotate",
              origin: str | None = None, query: str = "width=100&height=30"):
    headers = {"Cookie": cookie} if cookie else {}
    if origin:
        headers["Origin"] = origin
    session = aiohttp.ClientSession()
    ws_url = url.replace("http://", "ws://") + f"{path}?{query}"
    try:
        ws = await session.ws_connect(ws_url, headers=headers)
    except BaseException:
        await session.close()
        raise
    return session, ws


async def _screen_until(ws, pattern: str, width: int = 100, height: int = 30,
                        timeout: float = 30) -> str:
    screen = Screen(width, height)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = await asyncio.wait_for(ws.receive(), deadline - time.monotonic())
        except TimeoutError:
            break
        if msg.type == aiohttp.WSMsgType.BINARY:
            screen.feed(msg.data.decode("utf-8", "replace"))
            if re.search(pattern, screen.text()):
                return screen.text()
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                          aiohttp.WSMsgType.CLOSING):
            break
    raise AssertionError(f"{pattern!r} not shown:\n{screen.text()}")


def _gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                   for p in pids):
            return True
        time.sleep(0.05)
    return False


async def test_the_websocket_refuses_without_a_valid_cookie_or_role(served):
    base = served.url
    alice = login(base, "alice", served.secrets["alice"])
    bob = login(base, "bob", served.secrets["bob"])
    forged = alice.replace("=alice.", "=bob.")
    for cookie, path, origin in ((None, "ws/annotate", None),
                                 (forged, "ws/annotate", None),
                                 ("annotator_session=x.1.2.3", "ws/annotate", None),
                                 (bob, "ws/adjudicate", None),  # bob is no curator
                                 (alice, "ws/export", None),
                                 (alice, "ws/annotate", "http://evil.example")):
        with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
            await _ws(base, cookie, path, origin)
        assert exc.value.status in (403, 404), (cookie, path)
    assert served.app_pids() == []  # no app was started for any of them


async def test_a_session_runs_as_its_cookies_name_whatever_the_request_says(served):
    base = served.url
    alice = login(base, "alice", served.secrets["alice"])
    session, ws = await _ws(base, alice, query="width=100&height=30&as=bob&name=bob"
                                              "&command=sh")
    try:
        await _screen_until(ws, r"doc \d+/\d+")
        pids = served.app_pids()
        assert len(pids) == 1
        cmd = psutil.Process(pids[0]).cmdline()
        assert cmd[1:] == ["-m", "annotator", "annotate", "--project", str(served.root),
                           "--as=alice"]
        # a message naming another user in the browser's own protocol changes nothing
        await ws.send_str(json.dumps(["stdin", "s"]))
        await _screen_until(ws, r"s \[x\] Sover")
    finally:
        await ws.close()
        await session.close()
    assert _gone(pids, 5), "the app outlived its closed websocket"
    out = run_cli("export", "--annotator", "alice", "--out", "-", cwd=served.root,
                  check=True).stdout
    assert "sovereignty" in out
    assert "sovereignty" not in run_cli("export", "--annotator", "bob", "--out", "-",
                                        cwd=served.root).stdout


async def test_a_second_tab_takes_over_and_there_is_never_a_second_writer(served):
    base = served.url
    bob = login(base, "bob", served.secrets["bob"])
    s1, ws1 = await _ws(base, bob)
    s2 = ws2 = None
    try:
        await _screen_until(ws1, r"doc \d+/\d+")
        first = served.app_pids()
        assert len(first) == 1
        s2, ws2 = await _ws(base, bob)
        await _screen_until(ws2, r"doc \d+/\d+")
        # the first tab was told and closed, its process ended before the second began
        msg = await asyncio.wait_for(ws1.receive(), 10)
        seen = msg.data.decode() if msg.type == aiohttp.WSMsgType.BINARY else ""
        while msg.type == aiohttp.WSMsgType.BINARY:
            msg = await asyncio.wait_for(ws1.receive(), 10)
            if msg.type == aiohttp.WSMsgType.BINARY:
                seen += msg.data.decode("utf-8", "replace")
        assert "opened in another tab" in seen
        assert not psutil.pid_exists(first[0]) or \
            psutil.Process(first[0]).status() == "zombie"
        assert len(served.app_pids()) == 1 and served.app_pids() != first
        assert "taken over" in served.output()
    finally:
        for ws, s in ((ws1, s1), (ws2, s2)):
            if ws is not None:
                await ws.close()
                await s.close()


async def test_a_curator_opens_adjudicate_and_an_ssh_session_is_respected(served):
    base = served.url
    cora = login(base, "cora", served.secrets["cora"])
    # an annotation session of cora's held elsewhere (as over SSH) is not broken into
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from annotator.project import Project; "
        f"p = Project({str(served.root)!r}); s = p.load_schema(None); "
        "j = p.store.journal('cora', s); j.claim(); print('held', flush=True); "
        "time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        session, ws = await _ws(base, cora)
        try:
            text = await _screen_until(ws, r"reload the page")
            assert "cora is already annotating in this project" in text.replace("\n", "")
        finally:
            await ws.close()
            await session.close()
    finally:
        holder.kill()
        holder.wait()
    session, ws = await _ws(base, cora, "ws/adjudicate")
    try:
        await _screen_until(ws, r"decided \d+ .* as cora", timeout=40)  # adjudication
        cmd = psutil.Process(served.app_pids()[0]).cmdline()
        assert cmd[3:4] == ["adjudicate"] and cmd[-1] == "--as=cora"
    finally:
        await ws.close()
        await session.close()


def test_sigterm_stops_the_server_and_its_app_processes(tmp_path: Path):
    root = demo_project(tmp_path)
    secrets = {n: add_user(root, n) for n in ("alice", "bob")}
    server = Server(root)
    try:
        async def open_two():
            opened = []
            for name in ("alice", "bob"):
                s, ws = await _ws(server.url, login(server.url, name, secrets[name]))
                await _screen_until(ws, r"doc \d+/\d+")
                opened.append((s, ws))
            pids = server.app_pids()
            assert len(pids) == 2
            server.proc.send_signal(signal.SIGTERM)
            code = await asyncio.get_running_loop().run_in_executor(
                None, lambda: server.proc.wait(20))
            for s, ws in opened:
                await ws.close()
                await s.close()
            return pids, code
        pids, code = asyncio.run(open_two())
        assert code == 0, server.output()
        assert _gone(pids, 5), f"app processes left: {pids}"
    finally:
        server.__exit__(None, None, None)


async def test_removing_a_user_ends_their_open_session(tmp_path: Path):
    root = demo_project(tmp_path)
    secret = add_user(root, "alice")
    with Server(root) as server:
        cookie = login(server.url, "alice", secret)
        session, ws = await _ws(server.url, cookie)
        try:
            await _screen_until(ws, r"doc \d+/\d+")
            pids = server.app_pids()
            run_cli("serve", "--remove-user", "alice", cwd=root, check=True)
            await _screen_until(ws, r"log in again", timeout=10)
            assert _gone(pids, 8)
        finally:
            await ws.close()
            await session.close()
        assert http(server.url, cookie=cookie)[0] == 403


def test_public_says_tls_must_be_in_front_and_marks_cookies_secure(tmp_path: Path):
    root = demo_project(tmp_path)
    secret = add_user(root, "alice")
    with Server(root, "--host", "127.0.0.1", "--public") as server:
        assert "TLS reverse proxy must be in front" in server.output()
        status, headers, _ = http(server.url + "login", {"name": "alice", "secret": secret})
        assert status == 303 and "; Secure" in headers["Set-Cookie"]
        cookie = headers["Set-Cookie"].split(";", 1)[0]
        assert "wss://" in http(server.url, cookie=cookie)[2]
    with Server(root) as server:  # loopback, plain HTTP (an SSH tunnel): not Secure
        status, headers, _ = http(server.url + "login", {"name": "alice", "secret": secret})
        assert "Secure" not in headers["Set-Cookie"]


def test_a_killed_server_leaves_no_app_process_behind(tmp_path: Path):
    """SIGKILL cannot be caught: the kernel's parent-death signal ends each app."""
    root = demo_project(tmp_path)
    secret = add_user(root, "alice")
    server = Server(root)
    try:
        async def open_one():
            s, ws = await _ws(server.url, login(server.url, "alice", secret))
            await _screen_until(ws, r"doc \d+/\d+")
            pids = server.app_pids()
            server.proc.kill()
            await asyncio.get_running_loop().run_in_executor(None, server.proc.wait)
            await s.close()
            return pids
        pids = asyncio.run(open_one())
        assert len(pids) == 1
        assert _gone(pids, 8), f"an orphan app kept running: {pids}"
    finally:
        server.__exit__(None, None, None)
