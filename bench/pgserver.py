"""A real PostgreSQL for the benchmarks, as crates/pg-testserver starts one for the tests:
Debian's initdb + pg_ctl in a temporary directory on a free loopback port (as the `postgres`
user under root). Durable settings (fsync on) unless asked otherwise."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "wxlink"


def bindir() -> Path:
    if os.environ.get("WXLINK_PG_BINDIR"):
        return Path(os.environ["WXLINK_PG_BINDIR"])
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[4]))
    if not dirs:
        raise SystemExit("PostgreSQL is not installed: run tests/postgres/install.sh")
    return Path(dirs[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self, fsync: bool = True) -> None:
        self.bin = bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="wxlink-bench-pg-"))
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            subprocess.run(["chown", "-R", "postgres:postgres", str(self.dir)], check=True)
        data = self.dir / "data"
        self._run("initdb", "-U", USER, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8",
                  "-D", str(data))
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories='' "
                f"-c max_connections=300 -c fsync={'on' if fsync else 'off'}")
        self._run("pg_ctl", "-D", str(data), "-o", opts, "-l", str(self.dir / "server.log"),
                  "-w", "start")

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       cwd="/")

    def url(self, db: str) -> str:
        return f"postgres://{USER}@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        subprocess.run([str(self.bin / "psql"), "-X", "-q", "-d", self.url("postgres"), "-c",
                        f'CREATE DATABASE "{name}"'], check=True, stdout=subprocess.DEVNULL)
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "PgServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
