"""Safe file handling for the SQLite store on a shared server.

Every file the store opens is checked through an opened descriptor (`fstat`), never a
path test that another user could change between the test and the use: open with
`O_NOFOLLOW | O_NONBLOCK` (a symlink is refused, a FIFO does not hang), then check the
type, owner, link count and mode of what was opened. Modes are set with `fchmod` on
that descriptor, so a symlink planted at the name is never chmod-ed through.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
from collections.abc import Iterator
from pathlib import Path

from annotator.errors import StoreError

_OPEN = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def login_of(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def what_is(st: os.stat_result) -> str:
    """A file's type in words, for messages."""
    m = st.st_mode
    for test, name in ((stat.S_ISREG, "a file"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device")):
        if test(m):
            return name
    return "not a regular file"


class Unsafe(StoreError):
    """A store file that is not what it should be (a symlink, a FIFO, another user's,
    hard-linked, writable by others): refused by name, never followed."""


@contextlib.contextmanager
def open_checked(path: Path, *, owner: int | None = None, kind: str = "file",
                 flags: int = os.O_RDONLY, single_link: bool = True) -> Iterator[int]:
    """An fd on `path`, checked: not a symlink, of `kind` ("file" or "dir"), owned by
    `owner` (a uid) when given, and (for a file) with one link only, so a hard link
    to someone else's journal is not taken for a journal of its own."""
    extra = os.O_DIRECTORY if kind == "dir" else 0
    try:
        fd = os.open(path, flags | _OPEN | extra)
    except OSError as exc:
        import errno

        if exc.errno == errno.ELOOP:
            raise Unsafe("is a symbolic link: refused (never followed)", path) from None
        if exc.errno == errno.ENOTDIR and kind == "dir":
            raise Unsafe(f"is {_lstat_what(path)}, not a directory: refused", path) from None
        if exc.errno == errno.ENXIO:
            raise Unsafe("is a FIFO or socket, not a file: refused", path) from None
        raise
    try:
        st = os.fstat(fd)
        want = stat.S_ISDIR if kind == "dir" else stat.S_ISREG
        if not want(st.st_mode):
            raise Unsafe(f"is {what_is(st)}, not a {'directory' if kind == 'dir' else 'file'}:"
                         " refused", path)
        if owner is not None and st.st_uid != owner:
            raise Unsafe(f"belongs to {login_of(st.st_uid)}, not {login_of(owner)}: refused",
                         path)
        if kind == "file" and single_link and st.st_nlink > 1:
            raise Unsafe(f"has {st.st_nlink} hard links (a link to another file?): refused",
                         path)
        yield fd
    finally:
        os.close(fd)


def _lstat_what(path: Path) -> str:
    try:
        return what_is(os.lstat(path))
    except OSError:
        return "missing"


def read_checked(path: Path, owner: int | None = None, limit: int = 1 << 30) -> tuple[
        bytes, os.stat_result]:
    """The bytes of a regular file (never a FIFO, device or symlink) and its fstat."""
    with open_checked(path, owner=owner, single_link=False) as fd:
        st = os.fstat(fd)
        os.set_blocking(fd, True)
        chunks = []
        left = min(st.st_size, limit)
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks), st


def create_exclusive(path: Path, mode: int) -> None:
    """Create an empty file with exactly `mode`: never an existing name (a file or a
    symlink planted there), never through a symlink."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN, mode)
    try:
        os.fchmod(fd, mode)  # the umask aside
    finally:
        os.close(fd)


def set_mode(path: Path, mode: int, owner: int, kind: str = "file",
             gid: int | None = None) -> None:
    """Give `path` (ours) this mode (and group), through an fd: never through a symlink.
    A file that is not ours raises Unsafe."""
    with open_checked(path, owner=owner, kind=kind, single_link=False) as fd:
        st = os.fstat(fd)
        if gid is not None and st.st_gid != gid:
            with contextlib.suppress(PermissionError):  # a group we are not in
                os.fchown(fd, -1, gid)
        if stat.S_IMODE(st.st_mode) != mode:
            os.fchmod(fd, mode)


def writable_by_others(st: os.stat_result) -> bool:
    return bool(st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def check_lead_owned(path: Path, root: Path, lead: int, *, kind: str = "file") -> None:
    """`path` is trusted only if the lead owns it and nobody else can change it: not a
    symlink, owned by `lead`, not group/other-writable, and every directory from `root`
    down to it the same (a group-writable directory lets a member move the file aside
    and put another in its place; a sticky one does not, for the lead's files)."""
    path = Path(path)
    with open_checked(path, owner=lead, kind=kind, single_link=False) as fd:
        st = os.fstat(fd)
    if writable_by_others(st):
        raise Unsafe(f"is writable by {'others' if st.st_mode & stat.S_IWOTH else 'its group'}"
                     f" (mode {stat.S_IMODE(st.st_mode):04o}): in a team project only the lead "
                     "may change it; the lead runs `chmod go-w` on it (or `annotator team "
                     "init`)", path)
    try:
        rel = path.parent.relative_to(root)
    except ValueError:
        return  # outside the project: the lead chose it
    d = root
    for part in ("", *rel.parts):
        d = d / part if part else d
        ds = os.lstat(d)
        if stat.S_ISLNK(ds.st_mode):
            raise Unsafe("is a symbolic link: refused (never followed)", d)
        if writable_by_others(ds) and not ds.st_mode & stat.S_ISVTX:
            raise Unsafe(f"is a directory writable by others (mode "
                         f"{stat.S_IMODE(ds.st_mode):04o}): a member could replace {path.name}"
                         " in it; the lead runs `chmod go-w` on it (or `annotator team init`)",
                         d)
