"""`annotator serve`: the annotation screen in a web browser, one login per annotator.

Core modules (no Textual, no web framework needed for user management):
`users` (the lead's file of salted scrypt hashes), `cookies` (HMAC-signed session
cookies), `ratelimit` (failed logins), `pages` (the HTML, everything escaped).
`server` (aiohttp + textual-serve's browser client and process bridge, the optional
`annotator[serve]` extra) runs one `annotate --as NAME` per websocket, NAME taken
from the signed cookie only.
"""

from types import ModuleType


def load_server() -> ModuleType:
    """annotator.serve.server, or a clear message when the extra is not installed."""
    from annotator.errors import InputError

    try:
        from annotator.serve import server
    except ImportError as exc:
        raise InputError(f"`annotator serve` needs the serve extra ({exc.name or exc} is "
                         "missing): pip install 'annotator[serve]'") from None
    return server
