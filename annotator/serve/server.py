"""The web server of `annotator serve` (the optional `annotator[serve]` extra):
aiohttp, with textual-serve's browser client (xterm.js) and its app-process protocol.

textual-serve has no authentication: here every route but the login page, and the
websocket, is refused (403) without a valid signed cookie; the app process of a
websocket is `annotate --as NAME` (or `adjudicate` for a curator) with NAME from that
cookie, started without a shell. One session per name and mode: a second tab takes
over (the first one's process is ended before the new one starts, so there are never
two writers). A closed tab ends its process within seconds; SIGTERM or Ctrl+C ends the
server and every app process.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import textual_serve
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from annotator.serve import cookies, pages
from annotator.serve import users as users_mod
from annotator.serve.access import app_argv, is_curator, servable
from annotator.serve.ratelimit import FailureLimit
from annotator.textclean import safe_message

STATIC = Path(textual_serve.__file__).parent / "static"  # its browser client: xterm.js
QUIT_GRACE = 2.0  # seconds for the app to leave on "quit" before SIGTERM, then SIGKILL
MAX_INPUT = 64 * 1024
USER_CHECK = 2.0  # seconds between checks that an open session's user still exists

try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def _die_with_parent() -> None:
    """In the app process, before exec: SIGTERM it if the server dies (even SIGKILLed),
    so no orphan keeps an annotator's session lock."""
    if _prctl is not None:
        _prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def log(message: str) -> None:
    print(f"annotator serve: {safe_message(message, 500)}", file=sys.stderr, flush=True)


class AppProcess(AppService):
    """textual-serve's bridge to one app process, started from a fixed argv (not a
    shell string); its stderr is kept and, if it ends in failure, shown in the page's
    terminal with controls made visible, not printed raw to the server's console."""

    def __init__(self, argv: list[str], websocket: web.WebSocketResponse) -> None:
        super().__init__(argv[0], write_bytes=websocket.send_bytes,
                         write_str=websocket.send_str, close=websocket.close,
                         download_manager=DownloadManager())
        self.argv = argv
        self.websocket = websocket
        self.stderr = bytearray()
        self.started = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = super()._build_environment(width, height)
        for name in ("TEXTUAL", "TEXTUAL_LOG", "TEXTUAL_DEVTOOLS_HOST"):
            env.pop(name, None)  # no devtools link out of a served app
        return env

    async def _open_app_process(self, width: int = 80, height: int = 24):
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self._build_environment(width, height),
            start_new_session=True, preexec_fn=_die_with_parent)
        self._stdin = process.stdin
        return process

    async def run(self) -> None:
        """textual-serve's packet loop (D: screen bytes, M: meta), then the ending."""
        process = self._process
        assert process is not None and process.stdout and process.stderr

        async def read_stderr() -> None:
            while chunk := await process.stderr.read(4096):
                if len(self.stderr) < 64 * 1024:
                    self.stderr += chunk

        stderr_task = asyncio.create_task(read_stderr())
        stdout = process.stdout
        try:
            for _ in range(10):  # textual's web driver starts with this line
                line = await stdout.readline()
                if not line or line == b"__GANGLION__\n":
                    break
            while True:
                kind = await stdout.readexactly(1)
                size = int.from_bytes(await stdout.readexactly(4), "big")
                payload = await stdout.readexactly(size)
                if kind == b"D":
                    self.started.set()
                    await self.remote_write_bytes(payload)
                elif kind == b"M":
                    await self.on_meta(payload)
                # b"P" (file downloads): this app delivers none; ignored.
        except (asyncio.IncompleteReadError, ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(stderr_task, 2)
            stderr_task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 5)
        if process.returncode not in (0, None) and not self.websocket.closed:
            await self._show_failure()
        with contextlib.suppress(Exception):
            await self.remote_close()

    async def _show_failure(self) -> None:
        text = self.stderr.decode("utf-8", "replace").strip() or \
            f"the app ended with status {self._process.returncode}"
        lines = [safe_message(line, 400) for line in text.splitlines()[-20:]]
        body = "\r\n".join(["", *lines, "", "(reload the page to try again)", ""])
        with contextlib.suppress(Exception):
            await self.remote_write_bytes(("\x1b[0m\x1b[2J\x1b[H" + body).encode())

    async def on_meta(self, data: bytes) -> None:
        try:
            meta = json.loads(data)
        except ValueError:
            return
        if isinstance(meta, dict) and meta.get("type") == "exit":
            await self.remote_close()
        # open_url / deliver_file: this app sends none; anything else is ignored.

    async def stop(self) -> None:
        """Ask the app to quit; SIGTERM, then SIGKILL, if it does not within seconds.
        Nothing is lost: every action was stored before it was shown."""
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.send_meta({"type": "quit"}), 1)
            for sig, wait in ((None, QUIT_GRACE), (signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
                if sig is not None and process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.send_signal(sig)
                try:
                    await asyncio.wait_for(process.wait(), wait)
                    break
                except TimeoutError:
                    continue
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 3)
            self._task = None


@dataclass
class Live:
    name: str
    mode: str
    websocket: web.WebSocketResponse
    app: AppProcess


class UserFile:
    """The users file, read again whenever it changes (an added or removed user takes
    effect at once, without a restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: tuple | None = None
        self._users: dict[str, users_mod.User] = {}

    def get(self) -> dict[str, users_mod.User]:
        try:
            st = os.lstat(self.path)
            key = (st.st_ino, st.st_mtime_ns, st.st_size, st.st_mode, st.st_uid)
        except FileNotFoundError:
            key = None
        if key != self._key:
            try:
                self._users = users_mod.load_users(self.path)
            except Exception as exc:  # refused file: nobody logs in until it is fixed
                log(f"users file refused, no logins: {exc}")
                self._users = {}
            self._key = key
        return self._users


class AnnotatorServer:
    def __init__(self, project, *, public: bool = False,
                 max_age: int = cookies.DEFAULT_MAX_AGE) -> None:
        self.project = project
        self.root: Path = project.root
        self.team = project.team
        self.public = public
        self.max_age = max_age
        self.key = cookies.new_key()  # a restart logs everyone out
        self.users = UserFile(users_mod.users_path(project.store_dir))
        self.limit = FailureLimit()
        self._scrypt = asyncio.Semaphore(1)
        self._logged_out: dict[str, float] = {}  # cookie value -> when logged out
        self._refusals_logged: dict[str, float] = {}  # client -> when last said
        self.live: dict[tuple[str, str], Live] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self.on_event: Callable[[str], None] = log

    # -- identity -------------------------------------------------------------------
    def fingerprint(self, name: str) -> bytes | None:
        user = self.users.get().get(name)
        if user is None or servable(self.team, name) is not None:
            return None
        return user.fingerprint

    def user_of(self, request: web.Request) -> str | None:
        value = request.cookies.get(cookies.COOKIE_NAME)
        name = cookies.read_cookie(self.key, value, self.fingerprint)
        if name is not None and value in self._logged_out:
            return None  # logged out: that cookie value is dead, not only cleared
        return name

    def _https(self, request: web.Request) -> bool:
        return self.public or request.secure or \
            request.headers.get("X-Forwarded-Proto", "").lower() == "https"

    def _same_origin(self, request: web.Request) -> bool:
        """A browser names the page's origin: it must be this server's own (no other
        site's page may drive a session or a login)."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser's cross-origin request (curl, urllib)
        return urlsplit(origin).netloc.lower() == request.host.lower()

    # -- the web app ----------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth], client_max_size=16 * 1024)
        app.add_routes([
            web.get("/login", self.login_form),
            web.post("/login", self.login),
            web.get("/logout", self.logout),
            web.get("/", self.page),
            web.get("/adjudicate", self.page),
            web.get("/ws/{mode}", self.websocket),
            web.get("/favicon.ico", lambda request: web.Response(status=204)),
            web.static("/static/textual", STATIC, show_index=False, follow_symlinks=False),
        ])
        app.on_response_prepare.append(self._headers)
        app.on_shutdown.append(self._shutdown)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler):
        if request.path == "/login":
            return await handler(request)
        name = self.user_of(request)
        if name is None:
            if request.method == "GET" and "websocket" not in \
                    request.headers.get("Upgrade", "").lower():
                return web.Response(status=403, content_type="text/html",
                                    text=pages.login_page("Log in first."))
            raise web.HTTPForbidden(text="log in first")
        request["user"] = name
        return await handler(request)

    async def _headers(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Content-Security-Policy"] = pages.CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"  # "no-referrer" sends Origin: null
        response.headers["X-Frame-Options"] = "DENY"
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"

    def _client(self, request: web.Request) -> str:
        return request.remote or "?"

    async def login_form(self, request: web.Request) -> web.Response:
        return web.Response(content_type="text/html", text=pages.login_page())

    async def login(self, request: web.Request) -> web.Response:
        if not self._same_origin(request):
            raise web.HTTPForbidden(text="cross-origin login refused")
        form = await request.post()
        name, secret = str(form.get("name", ""))[:64], str(form.get("secret", ""))[:200]
        client = self._client(request)
        wait = self.limit.blocked(name, client)
        if wait > 0:
            now = time.monotonic()
            if now - self._refusals_logged.get(client, -1e9) > 60:  # once a minute
                if len(self._refusals_logged) > 1_000:
                    self._refusals_logged.clear()
                self._refusals_logged[client] = now
                self.on_event(f"logins refused (too many failures) from {client}, "
                              f"latest for {name!r}")
            return web.Response(status=429, content_type="text/html",
                                headers={"Retry-After": str(int(wait) + 1)},
                                text=pages.login_page(f"Too many failed logins: try again in "
                                                      f"{int(wait) + 1} s."))
        # counted before the secret is checked: logins sent at once all count
        at = self.limit.attempt(name, client)
        user = self.users.get().get(name)
        async with self._scrypt:  # one check at a time: a burst queues, not the CPU
            ok = await asyncio.get_running_loop().run_in_executor(
                None, users_mod.check_secret, user.record if user else None, secret)
        if ok:
            self.limit.succeeded(name, client, at)
        if ok and servable(self.team, name) is not None:
            self.on_event(f"login refused for {name}: {servable(self.team, name)}")
            return web.Response(status=403, content_type="text/html",
                                text=pages.login_page(f"{name} cannot be served here: ask "
                                                      "the project's lead."))
        if not ok:
            self.on_event(f"failed login for {name!r} from {client}")
            return web.Response(status=403, content_type="text/html",
                                text=pages.login_page("Wrong name or secret."))
        self.on_event(f"{name} logged in from {client}")
        value = cookies.make_cookie(self.key, name, user.fingerprint, self.max_age)
        return web.Response(status=303, headers={
            "Location": "/", "Set-Cookie": cookies.cookie_header(
                value, self.max_age, self._https(request))})

    async def logout(self, request: web.Request) -> web.Response:
        value = request.cookies.get(cookies.COOKIE_NAME)
        if cookies.read_cookie(self.key, value, self.fingerprint) is not None:
            now = time.time()
            # forget the ones past their expiry (a cookie lives 12 h at most)
            self._logged_out = {v: t for v, t in self._logged_out.items()
                                if now - t < self.max_age}
            self._logged_out[value] = now
        return web.Response(status=303, headers={
            "Location": "/login",
            "Set-Cookie": cookies.clear_cookie_header(self._https(request))})

    async def page(self, request: web.Request) -> web.Response:
        name = request["user"]
        mode = "adjudicate" if request.path == "/adjudicate" else "annotate"
        curator = is_curator(self.team, name)
        if mode == "adjudicate" and not curator:
            raise web.HTTPForbidden(text=f"{name} is not a curator of this project")
        scheme = "wss" if self._https(request) else "ws"
        url = f"{scheme}://{request.host}/ws/{mode}"
        return web.Response(content_type="text/html",
                            text=pages.app_page(name, mode, url, curator))

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        name, mode = request["user"], request.match_info["mode"]
        if mode not in ("annotate", "adjudicate") or (
                mode == "adjudicate" and not is_curator(self.team, name)):
            raise web.HTTPForbidden(text="not allowed")
        if not self._same_origin(request):
            raise web.HTTPForbidden(text="cross-origin websocket refused")
        width = _bounded(request.query.get("width"), 80, 20, 500)
        height = _bounded(request.query.get("height"), 24, 10, 300)
        # a ping every 10 s, its pong due within 5: a vanished browser is noticed in ~15 s
        # (a closed tab sends a close frame and ends at once)
        # the login this session was let in with, taken now: a user removed while the
        # app starts (a takeover waits, a spawn takes time) still ends it
        fingerprint = self.fingerprint(name)
        if fingerprint is None:
            raise web.HTTPForbidden(text="not allowed")
        ws = web.WebSocketResponse(heartbeat=10, max_msg_size=MAX_INPUT * 2)
        await ws.prepare(request)
        key = (name, mode)
        async with self._locks.setdefault(key, asyncio.Lock()):
            old = self.live.pop(key, None)
            if old is not None:  # a second tab takes over: the first writer ends first
                self.on_event(f"{name}: {mode} taken over by a new tab")
                await _end(old, "This session was opened in another tab.")
            app = AppProcess(app_argv(self.root, name, mode), ws)
            await app.start(width, height)
            entry = Live(name, mode, ws, app)
            self.live[key] = entry
        self.on_event(f"{name}: {mode} started (pid {app.pid})")
        watch = asyncio.create_task(self._watch_user(entry, fingerprint))
        try:
            await _messages(ws, app)
        finally:
            watch.cancel()
            if self.live.get(key) is entry:
                del self.live[key]
            await app.stop()
            self.on_event(f"{name}: {mode} ended (pid {app.pid})")
        return ws

    async def _watch_user(self, entry: Live, fingerprint: bytes | None) -> None:
        """A user removed (or given a new secret) while a session is open: it ends."""
        while True:
            await asyncio.sleep(USER_CHECK)
            if self.fingerprint(entry.name) != fingerprint:
                self.on_event(f"{entry.name}: login removed or renewed, session ended")
                await _end(entry, "Your login was removed or renewed: log in again.")
                return

    async def _shutdown(self, app: web.Application) -> None:
        live = list(self.live.values())
        self.live.clear()
        await asyncio.gather(*(_end(entry, "The server is stopping.") for entry in live),
                             return_exceptions=True)


def _bounded(text: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(max(int(text or default), low), high)
    except ValueError:
        return default


async def _end(entry: Live, why: str) -> None:
    with contextlib.suppress(Exception):
        await entry.websocket.send_bytes(f"\x1b[0m\x1b[2J\x1b[H\r\n{why}\r\n".encode())
    await entry.app.stop()
    with contextlib.suppress(Exception):
        await entry.websocket.close()


async def _messages(ws: web.WebSocketResponse, app: AppProcess) -> None:
    """The browser's messages (textual-serve's protocol), checked: keys go to the app's
    stdin as data packets, sizes are bounded, anything else is dropped."""
    async for message in ws:
        if message.type != WSMsgType.TEXT:
            continue
        try:
            envelope = json.loads(message.data)
        except ValueError:
            continue
        if not isinstance(envelope, list) or not envelope or not isinstance(envelope[0], str):
            continue
        kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
        if kind == "stdin" and isinstance(data, str) and len(data) <= MAX_INPUT:
            await app.send_bytes(data.encode("utf-8", "replace"))
        elif kind == "resize" and isinstance(data, dict):
            await app.set_terminal_size(_bounded(data.get("width"), 80, 20, 500),
                                        _bounded(data.get("height"), 24, 10, 300))
        elif kind == "ping" and isinstance(data, str) and len(data) <= 40:
            await ws.send_json(["pong", data])
        elif kind == "blur":
            await app.blur()
        elif kind == "focus":
            await app.focus()


async def serve(project, host: str, port: int, *, public: bool = False,
                ready: Callable[[str], None] | None = None) -> None:
    """Run until SIGTERM or SIGINT; then every app process is ended before returning."""
    server = AnnotatorServer(project, public=public)
    runner = web.AppRunner(server.make_app(), handle_signals=False, access_log=None,
                           shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    bound = runner.addresses[0] if runner.addresses else (host, port)
    url_host = f"[{bound[0]}]" if ":" in str(bound[0]) else bound[0]
    if ready is not None:
        ready(f"http://{url_host}:{bound[1]}/")
    try:
        await stop.wait()
    finally:
        await runner.cleanup()  # on_shutdown ends every app process


def run(project, host: str, port: int, *, public: bool = False,
        ready: Callable[[str], None] | None = None) -> None:
    asyncio.run(serve(project, host, port, public=public, ready=ready))
