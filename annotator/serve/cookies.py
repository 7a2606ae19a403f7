"""Session cookies: `NAME.EXPIRY.NONCE.SIGNATURE`, signed with HMAC-SHA256 under a
key the server makes at start (so a restart logs everyone out) and bound to the
user's current secret (removing or renewing a user ends their sessions).

The cookie names who the session is; nothing else in a request ever does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

COOKIE_NAME = "annotator_session"
DEFAULT_MAX_AGE = 12 * 3600  # one working day


def new_key() -> bytes:
    return secrets.token_bytes(32)


def _sig(key: bytes, payload: str, fingerprint: bytes) -> str:
    mac = hmac.new(key, payload.encode() + b"\0" + fingerprint, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def make_cookie(key: bytes, name: str, fingerprint: bytes, max_age: int = DEFAULT_MAX_AGE,
                now: float | None = None) -> str:
    expiry = int((time.time() if now is None else now) + max_age)
    payload = f"{name}.{expiry}.{secrets.token_hex(8)}"
    return f"{payload}.{_sig(key, payload, fingerprint)}"


def read_cookie(key: bytes, value: str | None, fingerprint_of: Callable[[str], bytes | None],
                now: float | None = None) -> str | None:
    """The name a cookie value was signed for, or None: forged, altered, expired, or
    for a user who no longer exists or has a new secret since."""
    if not value or len(value) > 300:
        return None
    parts = value.split(".")
    if len(parts) < 4:
        return None
    sig = parts[-1]
    nonce, expiry = parts[-2], parts[-3]
    name = ".".join(parts[:-3])  # names may hold dots
    if not expiry.isdigit() or int(expiry) < (time.time() if now is None else now):
        return None
    fingerprint = fingerprint_of(name)
    if fingerprint is None:
        return None
    want = _sig(key, f"{name}.{expiry}.{nonce}", fingerprint)
    return name if hmac.compare_digest(want.encode(), sig.encode()) else None


def cookie_header(value: str, max_age: int, secure: bool) -> str:
    """Set-Cookie: HttpOnly (no script reads it), SameSite=Strict (no other site's page
    sends it, so no cross-site request acts as the user), Secure behind TLS."""
    return (f"{COOKIE_NAME}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict"
            + ("; Secure" if secure else ""))


def clear_cookie_header(secure: bool) -> str:
    return cookie_header("", 0, secure)
