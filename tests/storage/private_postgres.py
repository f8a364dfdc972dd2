"""A private PostgreSQL server for tests that stop and start it (never the shared one).

``initdb`` into a temporary folder, ``pg_ctl`` on a free port of 127.0.0.1, trust
authentication for the role ``bot``. The binaries come from ``/usr/lib/postgresql/*/bin``
(Debian's postgresql package; CI installs it with ``.ci/start-postgres``); without them the
fixture skips. As root, the server runs as the ``postgres`` user (PostgreSQL refuses root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivatePostgres:
    """One PostgreSQL server of this test alone: :attr:`url` (asyncpg), :meth:`stop`,
    :meth:`start`. Stopping it is a fast shutdown: open connections are cut."""

    def __init__(self, binaries: Path, folder: Path) -> None:
        self.binaries, self.folder = binaries, folder
        self.data, self.log = folder / "data", folder / "server.log"
        self.port = _free_port()
        self.url = f"postgresql+asyncpg://bot@127.0.0.1:{self.port}/postgres"
        self._as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_user:
            shutil.chown(folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "bot", "--auth=trust", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._as_user, str(self.binaries / tool), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "start", "-w", "-D", str(self.data), "-l", str(self.log), "-o", options)

    def stop(self) -> None:
        """Stop the server now (fast shutdown: connections are cut)."""
        self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running private PostgreSQL server (empty ``postgres`` database), removed afterwards."""
    binaries = _binaries()
    if binaries is None:
        pytest.skip("PostgreSQL binaries (/usr/lib/postgresql/*/bin) are not installed")
    folder = Path(tempfile.mkdtemp(prefix="private-postgres-"))
    try:
        server = PrivatePostgres(binaries, folder)
        server.start()
        try:
            yield server
        finally:
            try:
                server.stop()
            except subprocess.CalledProcessError:
                pass  # already stopped
    finally:
        shutil.rmtree(folder, ignore_errors=True)
