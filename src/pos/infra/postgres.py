"""A project-local PostgreSQL cluster from Debian's packages, on the port DATABASE_URL names.

Debian keeps the server binaries in a versioned directory off PATH, and the server refuses
to run as root: as root we run them as the ``postgres`` user, who must be able to reach
the data dir (a clone under a private home folder would not be, hence the fallback).
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
from pathlib import Path

import psycopg

from pos.config import DatabaseSettings, InfraSettings
from pos.infra.process import (
    InfraError,
    ServiceStatus,
    is_local_host,
    port_open,
    refuse_unreachable_remote,
    run,
    wait_until,
)

POSTGRES_USER = "postgres"

# Tuned for a 2-core development machine running the whole pipeline beside it; durability
# settings (fsync, synchronous_commit, full_page_writes) stay at their safe defaults.
SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "400",
    "shared_buffers": "512MB",
    "wal_buffers": "16MB",
    "max_wal_size": "2GB",
    "checkpoint_timeout": "15min",
    "log_min_messages": "warning",
}


def _as_root() -> bool:
    return os.geteuid() == 0


def user_prefix() -> list[str]:
    return ["runuser", "-u", POSTGRES_USER, "--"] if _as_root() else []


def bin_dir(*, install: bool = True) -> Path:
    """Debian's versioned server bin dir, installing the packages when they are missing."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found and install:
        if not _as_root():
            raise InfraError(
                "PostgreSQL server binaries are missing and we are not root: "
                "run `sudo apt-get install -y postgresql`"
            )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-q"], what="apt-get update", env=env, timeout=600)
        run(
            ["apt-get", "install", "-y", "-q", "postgresql", "postgresql-contrib"],
            what="apt-get install postgresql",
            env=env,
            timeout=900,
        )
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise InfraError("no PostgreSQL server found under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


def reachable_by_postgres(path: Path) -> bool:
    if not _as_root():
        return True
    try:
        run([*user_prefix(), "test", "-x", str(path)], what="access check", timeout=10)
    except InfraError:
        return False
    return True


def data_dir(infra: InfraSettings) -> Path:
    """``.local/postgres/data``, or a /var/tmp twin when the postgres user cannot reach it."""
    pg_home = infra.pos_state_dir / "postgres"
    pg_home.mkdir(parents=True, exist_ok=True)
    if reachable_by_postgres(pg_home):
        return pg_home / "data"
    digest = hashlib.sha256(str(pg_home).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"pos-postgres-{digest}" / "data"


def log_file(infra: InfraSettings) -> Path:
    """Beside the data dir, where the server (running as postgres) may write."""
    return data_dir(infra).parent / "postgres.log"


def chown_postgres(path: Path) -> None:
    if _as_root():
        shutil.chown(path, user=POSTGRES_USER, group=POSTGRES_USER)


def target(settings: DatabaseSettings) -> tuple[str, int]:
    """The first host DATABASE_URL names: the one a local cluster is started on."""
    return settings.parsed.hosts[0]


def _admin_dsn(settings: DatabaseSettings) -> str:
    """The same server(s) and credentials, but the always-present ``postgres`` database."""
    return settings.parsed.with_database("postgres").libpq()


def answers(settings: DatabaseSettings, timeout: float = 2.0) -> bool:
    try:
        with psycopg.connect(_admin_dsn(settings), connect_timeout=max(1, int(timeout))):
            return True
    except psycopg.Error:
        return False


def refuse_remote(settings: DatabaseSettings) -> None:
    """Fail when DATABASE_URL names another machine's server that does not answer."""
    host, port = target(settings)
    refuse_unreachable_remote("DATABASE_URL", host, port, lambda: answers(settings), "PostgreSQL")


def _pid_of_cluster(ddir: Path) -> int | None:
    try:
        return int((ddir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def managed_running(infra: InfraSettings) -> bool:
    ddir = data_dir(infra)
    pid = _pid_of_cluster(ddir)
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def up(settings: DatabaseSettings, infra: InfraSettings, *, timeout: float = 60.0) -> ServiceStatus:
    """Make DATABASE_URL answer: reuse what runs there, else start the local cluster."""
    host, port = target(settings)
    if answers(settings):
        ensure_database(settings)
        return status(settings, infra)
    refuse_remote(settings)
    if port_open(host, port):
        raise InfraError(
            f"port {port} is taken by something that is not a PostgreSQL we can log in to; "
            "free it or point DATABASE_URL elsewhere"
        )
    bins = bin_dir()
    ddir = data_dir(infra)
    if not (ddir / "PG_VERSION").exists():
        ddir.mkdir(parents=True, exist_ok=True)
        chown_postgres(ddir.parent)
        chown_postgres(ddir)
        os.chmod(ddir, 0o700)
        run(
            [
                *user_prefix(),
                str(bins / "initdb"),
                "-D",
                str(ddir),
                "-U",
                POSTGRES_USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            what="initdb",
        )
    log = log_file(infra)
    opts = " ".join(f"-c {k}={v}" for k, v in SERVER_OPTIONS.items())
    run(
        [
            *user_prefix(),
            str(bins / "pg_ctl"),
            *pg_ctl_start_args(ddir, log, f"-p {port} -k {ddir} {opts}", timeout),
        ],
        what=f"starting PostgreSQL (log: {log})",
        timeout=timeout + 10,
    )
    wait_until(lambda: answers(settings), timeout=timeout, what="PostgreSQL", log=log)
    ensure_database(settings)
    return status(settings, infra)


def pg_ctl_start_args(data: Path, log: Path, options: str, timeout: float) -> list[str]:
    """``pg_ctl``'s arguments to start the server of ``data`` with the server ``options``,
    logging to ``log``, and to wait (at most ``timeout``) until it accepts connections."""
    return ["-D", str(data), "-l", str(log), "-w", "-t", str(int(timeout)), "-o", options, "start"]


def ensure_database(settings: DatabaseSettings, name: str | None = None) -> None:
    """Create the database DATABASE_URL names (or ``name``) when it does not exist yet."""
    name = name or settings.database_name
    with psycopg.connect(_admin_dsn(settings), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def down(infra: InfraSettings) -> bool:
    """Stop the local cluster if it runs; never touches a server we did not start."""
    if not managed_running(infra):
        return False
    run(
        [
            *user_prefix(),
            str(bin_dir(install=False) / "pg_ctl"),
            "-D",
            str(data_dir(infra)),
            "-m",
            "fast",
            "-w",
            "stop",
        ],
        what="stopping PostgreSQL",
        timeout=60,
    )
    return True


def status(settings: DatabaseSettings, infra: InfraSettings) -> ServiceStatus:
    host, port = target(settings)
    running = answers(settings)
    managed = running and managed_running(infra) and is_local_host(host)
    detail = f"data: {data_dir(infra)}, log: {log_file(infra)}" if managed else ""
    return ServiceStatus("postgres", running, managed, f"{host}:{port}", detail)
