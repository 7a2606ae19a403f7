"""The users of `annotator serve`: one secret per annotator, stored only as a salted
scrypt hash in a file the lead owns (`.annotator/serve-users`, mode 0600).

The file is read through an opened descriptor that refuses a symlink, another user's
file or one readable by others (annotator.store.files), and written whole through a
temporary file created exclusively beside it (never through a planted name), then
renamed over it: a reader never sees half a file.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from annotator.errors import InputError
from annotator.store import files

FILE_NAME = "serve-users"
HEADER = "# annotator serve users: NAME scrypt$N$r$p$SALT$HASH (written by annotator serve)\n"
# ~50 ms and 16 MiB per check on a small server: slow for guessing, fast for a login.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1
SALT_BYTES, HASH_BYTES = 16, 32
SECRET_BYTES = 18  # 24 characters of URL-safe base64: 144 bits


@dataclass(frozen=True)
class User:
    name: str
    record: str  # scrypt$N$r$p$salt$hash

    @property
    def fingerprint(self) -> bytes:
        """Changes when the secret does: a cookie made for the old secret stops working."""
        return hashlib.sha256(self.record.encode()).digest()[:16]


def users_path(store_dir: Path) -> Path:
    return Path(store_dir) / FILE_NAME


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                            p=SCRYPT_P, dklen=HASH_BYTES, maxmem=64 << 20)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


# Checked against when the name is unknown, so a wrong name costs as long as a wrong
# secret: the time of a refusal does not tell which names exist.
_DUMMY = hash_secret("", salt=b"\0" * SALT_BYTES)


def check_secret(record: str | None, secret: str) -> bool:
    """True if `secret` matches the stored record (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = (record or _DUMMY).split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(secret.encode("utf-8", "replace"), salt=_unb64(salt), n=int(n),
                             r=int(r), p=int(p), dklen=len(_unb64(digest)), maxmem=64 << 20)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest)) and record is not None


def load_users(path: Path) -> dict[str, User]:
    """The users in the file ({} if there is none). A file that is a symlink, not ours,
    or readable or writable by anyone else is refused with its name."""
    from annotator.store.sqlite import ANNOTATOR_NAME

    if not os.path.lexists(path):
        return {}
    raw, st = files.read_checked(path, owner=os.geteuid(), limit=1 << 22)
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise files.Unsafe(f"is readable or writable by others (mode "
                           f"{stat.S_IMODE(st.st_mode):04o}): it holds the login hashes; "
                           "run `chmod 600` on it", path)
    users: dict[str, User] = {}
    for lineno, line in enumerate(raw.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not ANNOTATOR_NAME.match(parts[0]) or \
                not parts[1].startswith("scrypt$") or parts[1].count("$") != 5:
            raise InputError(f"{path}:{lineno}: not a user line (NAME scrypt$...): the file "
                             "is written by `annotator serve --add-user`; remove the line")
        users[parts[0]] = User(parts[0], parts[1])
    return users


def _write_users(path: Path, users: dict[str, User]) -> None:
    text = HEADER + "".join(f"{u.name} {u.record}\n" for u in sorted(
        users.values(), key=lambda u: u.name))
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    files.create_exclusive(tmp, 0o600)  # never an existing name, never through a symlink
    try:
        with files.open_checked(tmp, owner=os.geteuid(), flags=os.O_WRONLY) as fd:
            os.set_blocking(fd, True)
            data = text.encode()
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        # rename() replaces the name itself: a symlink planted there is replaced, never
        # followed.
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def add_user(path: Path, name: str) -> str:
    """Add `name` with a new random secret; returns the secret (shown once, never
    stored). A name that has one already is refused."""
    from annotator.store.sqlite import check_annotator_name

    check_annotator_name(name)
    users = load_users(path)
    if name in users:
        raise InputError(f"{name} has a secret already: `--remove-user {name}` first, then "
                         "--add-user again for a new one", path)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    users[name] = User(name, hash_secret(secret))
    _write_users(path, users)
    return secret


def remove_user(path: Path, name: str) -> None:
    """Remove `name`: their secret and every cookie made with it stop working at once."""
    users = load_users(path)
    if name not in users:
        raise InputError(f"no such user: {name}", path)
    del users[name]
    _write_users(path, users)
