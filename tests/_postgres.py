"""A throwaway PostgreSQL server for tests: Debian's binaries, a temporary cluster, a password-protected role.

The server listens on a free port of 127.0.0.1 only, keeps its data, socket and log in one temporary
directory, and trades durability for speed (fsync off). When the binaries are absent and we are
root, they are installed from Debian's packages; where that cannot be done, :class:`PostgresUnavailable`
says why, and the ``postgres_url`` fixture turns it into a skip (or a failure under CI).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

PG_ROOT = Path("/usr/lib/postgresql")  # Debian's layout: /usr/lib/postgresql/<major>/bin
SERVICE_USER = "postgres"  # initdb and postgres refuse to run as root; Debian's package creates this user
START_TIMEOUT_S = 60
# Durability is not needed for a cluster that is deleted after the tests, and it costs seconds.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is absent and could not be installed here (not root, no apt-get, or apt-get failed)."""


def find_bindir() -> Path | None:
    """The ``bin`` folder of the newest PostgreSQL under ``PG_ROOT`` that has ``initdb``, or None."""
    found = []
    for bindir in PG_ROOT.glob("*/bin"):
        major = bindir.parent.name
        if major.isdigit() and (bindir / "initdb").is_file():
            found.append((int(major), bindir))
    return max(found)[1] if found else None


def install() -> Path:
    """Install Debian's ``postgresql`` package and return its ``bin`` folder."""
    if os.geteuid() != 0:
        raise PostgresUnavailable(f"PostgreSQL is not installed under {PG_ROOT} and installing it needs root")
    if shutil.which("apt-get") is None:
        raise PostgresUnavailable(f"PostgreSQL is not installed under {PG_ROOT} and there is no apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
    ):
        log.warning("PostgreSQL is not installed; running %s", " ".join(argv))
        try:
            subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=900)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            tail = (e.stderr or "").strip()[-2000:] if isinstance(e.stderr, str) else ""
            raise PostgresUnavailable(f"`{' '.join(argv)}` failed: {tail or e}") from e
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable(f"`apt-get install postgresql` succeeded but no initdb is under {PG_ROOT}")
    return bindir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory; ``start()``, read ``url``, ``stop()``.

    ``url`` is ``postgresql://<user>:<password>@127.0.0.1:<port>/<database>``, which SQLAlchemy 2
    and Optuna's ``RDBStorage`` open with psycopg 3 (the ``postgres`` extra).
    """

    def __init__(self, user: str = "automl", database: str = "automl") -> None:
        self.user = user
        self.database = database
        self.password = secrets.token_hex(16)  # hex: nothing to quote in SQL or in a URL
        self.port: int | None = None
        self._bindir: Path | None = None
        self._dir: Path | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server is not started; call start() first")
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    @property
    def _workdir(self) -> Path:
        if self._dir is None:
            raise RuntimeError("the server has no directory; call start() first")
        return self._dir

    @property
    def _data(self) -> Path:
        return self._workdir / "data"

    def start(self) -> PostgresServer:
        self._bindir = find_bindir() or install()
        self._dir = self._make_dir()
        try:
            self._as_service_user(
                "initdb", "-D", str(self._data), "-U", "postgres", "--auth-local=trust",
                "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync",
            )  # fmt: skip
            self._listen_and_start()
            self._psql(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'")
            self._psql(f"CREATE DATABASE {self.database} OWNER {self.user}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server at once (no checkpoint: the data are thrown away) and delete its directory."""
        if self._dir is None:
            return
        if (self._data / "postmaster.pid").exists():
            try:
                self._as_service_user("pg_ctl", "stop", "-D", str(self._data), "-m", "immediate", "-w", "-t", "30")
            except subprocess.SubprocessError:
                self._kill_postmaster()
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None
        self.port = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _make_dir(self) -> Path:
        # The service user must reach the directory: pytest's tmp_path is private to root, and so is
        # any TMPDIR under /root, hence a directory of its own under a world-traversable parent.
        parent = Path(tempfile.gettempdir())
        if os.geteuid() == 0 and not all(p.stat().st_mode & 0o001 for p in (parent, *parent.parents)):
            parent = Path("/tmp")
        path = Path(tempfile.mkdtemp(prefix="automl-pg-", dir=parent))
        if os.geteuid() == 0:
            try:
                shutil.chown(path, user=SERVICE_USER, group=SERVICE_USER)
            except LookupError as e:
                shutil.rmtree(path)
                raise PostgresUnavailable(f"the user {SERVICE_USER!r} that runs PostgreSQL does not exist") from e
        return path

    def _listen_and_start(self) -> None:
        # A free port can be taken between choosing it and binding it; try a few.
        for attempt in range(3):
            self.port = free_port()
            settings = {**SETTINGS, "port": str(self.port), "unix_socket_directories": f"'{self._workdir}'"}
            conf = "".join(f"{key} = {value}\n" for key, value in settings.items())
            (self._data / "postgresql.auto.conf").write_text(conf)
            log_file = self._workdir / "server.log"
            try:
                self._as_service_user(
                    "pg_ctl", "start", "-D", str(self._data), "-l", str(log_file), "-w", "-t", str(START_TIMEOUT_S),
                    timeout=START_TIMEOUT_S + 30,
                )  # fmt: skip
                return
            except subprocess.CalledProcessError as e:
                server_log = log_file.read_text(errors="replace") if log_file.exists() else ""
                if "could not bind" in server_log and attempt < 2:
                    continue
                raise RuntimeError(f"PostgreSQL did not start: {e.stderr.strip()}\n{server_log[-2000:]}") from e

    def _psql(self, sql: str) -> None:
        self._as_service_user(
            "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self._workdir), "-p", str(self.port),
            "-U", "postgres", "-d", "postgres", "-c", sql,
        )  # fmt: skip

    def _as_service_user(self, program: str, *args: str, timeout: float = 120) -> None:
        if self._bindir is None:
            raise RuntimeError("no PostgreSQL binaries found yet; call start() first")
        argv = [str(self._bindir / program), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", SERVICE_USER, "--", *argv]
        try:
            subprocess.run(argv, capture_output=True, text=True, check=True, timeout=timeout, cwd=self._workdir)
        except subprocess.CalledProcessError as e:
            log.error("%s failed (exit %s): %s", program, e.returncode, (e.stderr or e.stdout).strip())
            raise

    def _kill_postmaster(self) -> None:
        try:
            pid = int((self._data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)  # its children notice the postmaster is gone and exit
        except (OSError, ValueError, IndexError):
            pass
