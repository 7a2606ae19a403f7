"""A real PostgreSQL server for the tests and benchmarks, started from nothing.

`initdb` in a temporary directory as an unprivileged user (PostgreSQL refuses to run as
root: the Debian `postgres` user, else one created here), listening on a Unix socket in
that directory and on 127.0.0.1 at a free port. No system service is involved.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SERVER_USER = "postgres"  # the Debian package's user; created if missing


def find_bindir() -> Path | None:
    """Where `initdb` and `pg_ctl` are: PATH, `pg_config --bindir`, Debian's layout."""
    for name in ("initdb",):
        found = shutil.which(name)
        if found:
            return Path(found).parent
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                             check=True).stdout.strip()
        if (Path(out) / "initdb").exists():
            return Path(out)
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parent.parent.name)
                      if Path(p).parent.parent.name.isdigit() else 0)
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> str | None:
    """The user the server runs as: None when we are not root (we run it ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/false",
                        SERVER_USER], check=True)
    return SERVER_USER


class PgServer:
    """One PostgreSQL cluster. `admin` is its superuser role."""

    admin = "postgres"

    def __init__(self, bindir: Path, fsync: bool = False):
        self.bindir = bindir
        self.user = _server_user()
        # Not under pytest's tmp (mode 0700, root's): the server user must reach it.
        self.base = Path(tempfile.mkdtemp(prefix="annotator-pg-"))
        os.chmod(self.base, 0o755)
        self.data = self.base / "data"
        self.socket_dir = self.base
        self.port = _free_port()
        self.log = self.base / "server.log"
        self.fsync = fsync
        if self.user:
            shutil.chown(self.base, self.user)
        self._run("initdb", "-D", str(self.data), "-U", self.admin, "-A", "trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions", "-N")
        conf = self.data / "postgresql.conf"
        with open(conf, "a") as fh:
            # Small: the machine is shared. fsync off unless a benchmark asks (a killed
            # server loses nothing committed either way: the kernel has the pages).
            fh.write(f"\nshared_buffers = 64MB\nmax_connections = 60\n"
                     f"fsync = {'on' if fsync else 'off'}\n"
                     f"synchronous_commit = on\nfull_page_writes = {'on' if fsync else 'off'}\n"
                     "unix_socket_permissions = 0777\n")
        self.start()

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / tool), *args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check,
                              cwd=self.base, timeout=120)

    # -- life cycle ---------------------------------------------------------------
    def start(self) -> None:
        opts = f"-k {self.socket_dir} -p {self.port} -h 127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w",
                  "-t", "60", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def kill(self) -> None:
        """Kill the server as a crash would (SIGKILL to the postmaster and its children):
        on the next start it recovers from its WAL."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                  text=True).stdout.split()
        for p in [pid, *map(int, children)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        time.sleep(0.2)  # the children too

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def require_password(self, role: str, password: str) -> None:
        """Make `role` log in with a password (SCRAM) over TCP; everyone else is
        still trusted. The password is set over the admin's connection."""
        hba = self.data / "pg_hba.conf"
        rule = f"host all {role} 127.0.0.1/32 scram-sha-256\n"
        text = hba.read_text()
        if rule not in text:
            hba.write_text(rule + text)  # first match wins
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)))
        self._run("pg_ctl", "-D", str(self.data), "reload")
        time.sleep(0.5)  # the postmaster rereads pg_hba.conf on SIGHUP

    # -- connecting ---------------------------------------------------------------
    def url(self, dbname: str = "postgres", user: str | None = None, tcp: bool = False,
            **params: str) -> str:
        host = "127.0.0.1" if tcp else str(self.socket_dir)
        query = {"host": host, "port": str(self.port), "user": user or self.admin, **params}
        from urllib.parse import quote

        return f"postgresql:///{dbname}?" + "&".join(f"{k}={quote(v, safe='')}"
                                                    for k, v in query.items())

    def sql(self, statement: str, dbname: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            conn.execute(statement)

    def new_database(self, name: str, owner: str = "lead") -> str:
        """A fresh database owned by `owner` (a login role with CREATEROLE: the lead,
        who runs `annotator db init` and `db add-annotator`)."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                            (owner,)).fetchone() is None:
                conn.execute(f'CREATE ROLE "{owner}" LOGIN CREATEROLE')
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}" TEMPLATE template0')
            # Only the roles the project grants may connect.
            conn.execute(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC')
        return name


def start_server(fsync: bool = False) -> PgServer | None:
    """A started server, or None when this machine has no PostgreSQL binaries."""
    bindir = find_bindir()
    if bindir is None:
        return None
    return PgServer(bindir, fsync=fsync)
