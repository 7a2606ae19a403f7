"""The server's HTML. Every value put into a page passes `html.escape` (names,
messages, URLs), and pages carry no inline script, so the Content-Security-Policy can
forbid any script but the server's own files."""

from __future__ import annotations

from html import escape

CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

_STYLE = """
body { background: #0c181f; color: #eee; font-family: monospace; margin: 0; }
main.login { max-width: 28em; margin: 4em auto; padding: 1.5em; background: #12232d; }
main.login input { display: block; width: 100%; margin: .3em 0 1em; font: inherit;
  padding: .4em; box-sizing: border-box; }
main.login button { font: inherit; padding: .5em 1.5em; }
p.error { color: #ffb3b3; }
nav { padding: .2em .6em; background: #12232d; font-size: 14px; }
nav a { color: #9cf; margin-left: 1.2em; }
#terminal { position: absolute; top: 1.8em; left: 0; width: 100vw !important;
  height: calc(100vh - 1.8em) !important; }
.closed-note { display: none; }
body.-closed .closed-note { display: inline; color: #ffb3b3; margin-left: 1.2em; }
"""


def _page(title: str, body: str, head: str = "") -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{_STYLE}</style>{head}</head>"
            f"<body>{body}</body></html>\n")


def login_page(message: str = "", project: str = "") -> str:
    """The login form; `message` (a refusal) is escaped."""
    error = f'<p class="error" role="alert">{escape(message)}</p>' if message else ""
    where = f"<p>Project: {escape(project)}</p>" if project else ""
    body = (f'<main class="login"><h1>annotator</h1>{where}{error}'
            '<form method="post" action="/login">'
            '<label for="name">Name</label>'
            '<input id="name" name="name" autocomplete="username" maxlength="64" required '
            'autofocus>'
            '<label for="secret">Secret</label>'
            '<input id="secret" name="secret" type="password" autocomplete="current-password"'
            ' maxlength="200" required>'
            '<button type="submit">Log in</button></form></main>')
    return _page("annotator: log in", body)


def app_page(name: str, mode: str, websocket_url: str, curator: bool,
             font_size: int = 16) -> str:
    """The terminal page: textual-serve's browser client connects to `websocket_url`."""
    links = ['<a href="/">annotate</a>']
    if curator:
        links.append('<a href="/adjudicate">adjudicate</a>')
    links.append('<a href="/logout">log out</a>')
    body = (f'<nav><span>{escape(name)} &middot; {escape(mode)}</span>{"".join(links)}'
            '<span class="closed-note">Session ended: reload the page to start again.'
            '</span></nav>'
            f'<div id="terminal" class="textual-terminal" '
            f'data-session-websocket-url="{escape(websocket_url, quote=True)}" '
            f'data-font-size="{int(font_size)}"></div>')
    head = ('<link rel="stylesheet" href="/static/textual/css/xterm.css">'
            '<script src="/static/textual/js/textual.js"></script>')
    return _page(f"annotator: {name} ({mode})", body, head)


def message_page(title: str, message: str) -> str:
    body = (f'<main class="login"><h1>{escape(title)}</h1><p>{escape(message)}</p>'
            '<p><a href="/">Back</a></p></main>')
    return _page(title, body)
