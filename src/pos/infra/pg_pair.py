"""A PostgreSQL primary with a synchronous streaming standby, and failover between them.

The production shape of the database tier: a commit returns only once the standby has the
WAL (``synchronous_commit=on``, the standby in ``synchronous_standby_names``), so an order
the API acknowledged survives the loss of the primary. Both nodes carry the same
configuration, ``synchronous_standby_names = 'FIRST 1 (pg1, pg2)'`` and each its own
``cluster_name`` (which is the name its WAL receiver reports), so the setting stays right
whichever node is primary after any number of failovers.

The replication settings live in ``postgresql.conf`` and ``ALTER SYSTEM``, never on the
command line: a ``-c`` option outranks ``ALTER SYSTEM``, and failover must be able to
change ``synchronous_standby_names`` on the new primary (otherwise it waits for its dead
standby and every commit hangs). Only the port and ``cluster_name``, which never change, are
passed at start.

Failover is explicit (``pos infra failover``): fence the old primary (stop it), promote the
standby, let the new primary commit without a standby. ``rejoin`` turns the old primary into
the new standby with ``pg_rewind`` (``wal_log_hints=on`` makes that possible).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pos.infra import postgres
from pos.infra.process import InfraError, pid_alive, port_open, run, wait_until

NODE_NAMES = ("pg1", "pg2")
SYNC_NAMES = "FIRST 1 (pg1, pg2)"

REPLICATION_CONF = f"""
# --- replicated topology (pos infra up --postgres-standby) ---
listen_addresses = '127.0.0.1'
max_connections = 200
shared_buffers = '128MB'
wal_level = replica
max_wal_senders = 10
wal_keep_size = '512MB'
hot_standby = on
wal_log_hints = on
synchronous_commit = on
synchronous_standby_names = '{SYNC_NAMES}'
log_min_messages = warning
"""


@dataclass(frozen=True)
class PgNode:
    name: str
    port: int
    data: Path

    @property
    def log(self) -> Path:
        return self.data.parent / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if pid_alive(pid) else None

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@dataclass(frozen=True)
class NodeState:
    name: str
    port: int
    running: bool
    role: str  # primary, standby or down
    replication: str = ""  # on a primary: who streams from it and how (sync/async)


def default_home(state_dir: Path) -> Path:
    """``<state_dir>/pg-pair``, or a /var/tmp twin when the postgres user cannot reach it."""
    home = state_dir / "pg-pair"
    home.mkdir(parents=True, exist_ok=True)
    if postgres.reachable_by_postgres(home):
        return home
    digest = hashlib.sha256(str(home).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"pos-pg-pair-{digest}"


class PostgresPair:
    """Two local clusters, ``pg1`` and ``pg2``, one primary and one synchronous standby."""

    def __init__(self, home: Path, ports: tuple[int, int] = (15432, 15433)) -> None:
        self.home = home
        self.nodes = tuple(
            PgNode(name, port, home / name) for name, port in zip(NODE_NAMES, ports, strict=True)
        )

    def node(self, name: str) -> PgNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise InfraError(f"no PostgreSQL node {name!r} (known: {', '.join(NODE_NAMES)})")

    def database_url(self, database: str = "posdb") -> str:
        """DATABASE_URL for the services: both hosts, the writable one picked at connect."""
        hosts = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)
        return f"postgresql://postgres@{hosts}/{database}?target_session_attrs=read-write"

    def _pg(self, tool: str, *args: str, what: str, timeout: float = 120) -> str:
        cmd = [*postgres.user_prefix(), str(postgres.bin_dir() / tool), *args]
        return run(cmd, what=what, timeout=timeout)

    # --- lifecycle -------------------------------------------------------------------

    def running(self) -> bool:
        return any(n.pid is not None for n in self.nodes)

    def start(self, *, timeout: float = 60.0) -> None:
        """Create the pair on first use, else start the nodes that are down, as they were."""
        for node in self.nodes:
            if node.pid is None and port_open("127.0.0.1", node.port):
                raise InfraError(f"port {node.port} is taken: {node.name} cannot start")
        first, second = self.nodes
        if not (first.data / "PG_VERSION").exists():
            self._initdb(first)
        self.start_node(first.name, timeout=timeout)
        if not (second.data / "PG_VERSION").exists():
            source = self.primary() or first.name
            self._base_backup(source=self.node(source), target=second)
        self.start_node(second.name, timeout=timeout)
        primary = self.primary()
        if primary is None:
            raise InfraError(f"no PostgreSQL node accepts writes; see the logs in {self.home}")
        standby = next(n.name for n in self.nodes if n.name != primary)
        self.wait_sync(primary, standby, timeout=timeout)

    def _initdb(self, node: PgNode) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        postgres.chown_postgres(self.home)
        self._pg(
            "initdb",
            "-D",
            str(node.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            what=f"initdb {node.name}",
        )
        with (node.data / "postgresql.conf").open("a") as conf:
            conf.write(REPLICATION_CONF)

    def _base_backup(self, *, source: PgNode, target: PgNode) -> None:
        """Copy the primary (configuration included) and mark the copy as its standby."""
        self._pg(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(source.port),
            "-U",
            "postgres",
            "-D",
            str(target.data),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            what=f"pg_basebackup {source.name} -> {target.name}",
        )

    def _socket_dir(self) -> Path:
        """Outside the data dirs: pg_rewind would try to copy a socket found in one."""
        sockets = self.home / "sockets"
        sockets.mkdir(parents=True, exist_ok=True)
        postgres.chown_postgres(sockets)
        return sockets

    def start_node(self, name: str, *, timeout: float = 60.0) -> None:
        node = self.node(name)
        if node.pid is not None:
            return
        options = f"-p {node.port} -k {self._socket_dir()} -c cluster_name={node.name}"
        self._pg(
            "pg_ctl",
            *postgres.pg_ctl_start_args(node.data, node.log, options, timeout),
            what=f"starting {node.name} (log: {node.log})",
            timeout=timeout + 10,
        )

    def stop_node(self, name: str, *, mode: str = "fast") -> bool:
        node = self.node(name)
        if node.pid is None:
            return False
        self._pg("pg_ctl", "-D", str(node.data), "-m", mode, "-w", "stop", what=f"stopping {name}")
        return True

    def kill_node(self, name: str) -> None:
        """SIGKILL the postmaster and its children: a crashed server, nothing flushed."""
        node = self.node(name)
        pid = node.pid
        if pid is None:
            return
        for victim in (pid, *_children(pid)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        wait_until(lambda: not port_open("127.0.0.1", node.port), timeout=20, what="kill", log=None)
        # Until its parent reaps it, the dead postmaster is a zombie whose pid still exists,
        # and the server (and pg_rewind's crash recovery) then refuses the data dir as in
        # use. The process is gone for good, so its lock file is stale: remove it.
        with contextlib.suppress(InfraError):
            wait_until(lambda: not Path(f"/proc/{pid}").exists(), timeout=5, what="reap", log=None)
        if not pid_alive(pid):
            (node.data / "postmaster.pid").unlink(missing_ok=True)

    def stop(self) -> bool:
        stopped = False
        for node in reversed(self.nodes):
            stopped = self.stop_node(node.name) or stopped
        return stopped

    # --- roles -----------------------------------------------------------------------

    def _sql(self, name: str, *statements: str, timeout: int = 5) -> list[tuple[object, ...]]:
        with psycopg.connect(
            self.node(name).dsn(), autocommit=True, connect_timeout=timeout
        ) as conn:
            rows: list[tuple[object, ...]] = []
            for statement in statements:  # ALTER SYSTEM refuses to share a transaction
                cur = conn.execute(statement)
                rows = cur.fetchall() if cur.description else []
            return rows

    def role(self, name: str) -> str:
        if self.node(name).pid is None:
            return "down"
        try:
            rows = self._sql(name, "SELECT pg_is_in_recovery()")
        except psycopg.Error:
            return "down"
        return "standby" if rows and rows[0][0] else "primary"

    def primary(self) -> str | None:
        return next((n.name for n in self.nodes if self.role(n.name) == "primary"), None)

    def replication(self, primary: str) -> str:
        rows = self._sql(
            primary,
            "SELECT application_name, state, sync_state FROM pg_stat_replication ORDER BY 1",
        )
        return ", ".join(f"{a} {s}/{sy}" for a, s, sy in rows) or "no standby attached"

    def wait_sync(self, primary: str, standby: str, *, timeout: float = 60.0) -> None:
        """Until the standby streams from the primary as its synchronous standby."""

        def synced() -> bool:
            try:
                rows = self._sql(
                    primary,
                    "SELECT sync_state FROM pg_stat_replication WHERE application_name = "
                    f"'{standby}'",
                )
            except psycopg.Error:
                return False
            return bool(rows) and rows[0][0] == "sync"

        wait_until(
            synced, timeout=timeout, what=f"{standby} as sync standby", log=self.node(standby).log
        )

    def states(self) -> list[NodeState]:
        out = []
        for node in self.nodes:
            role = self.role(node.name)
            detail = ""
            if role == "primary":
                with contextlib.suppress(psycopg.Error):
                    detail = self.replication(node.name)
            out.append(NodeState(node.name, node.port, node.pid is not None, role, detail))
        return out

    # --- failover --------------------------------------------------------------------

    def failover(self, *, timeout: float = 60.0) -> str:
        """Fence the primary, promote the standby, let it commit alone; returns its name.

        The old primary is stopped (immediately: it may be the node that misbehaves) before
        the standby is promoted, so two primaries never take writes at once.
        """
        roles = {n.name: self.role(n.name) for n in self.nodes}
        standbys = [name for name, role in roles.items() if role == "standby"]
        if not standbys:
            raise InfraError(f"no standby to promote (roles: {roles})")
        new = standbys[0]
        for name in roles:
            if name != new and self.node(name).pid is not None:
                self.stop_node(name, mode="immediate")
        self._pg("pg_ctl", "-D", str(self.node(new).data), "-w", "promote", what=f"promote {new}")
        wait_until(lambda: self.role(new) == "primary", timeout=timeout, what="promotion", log=None)
        self.run_alone(new)
        return new

    def run_alone(self, name: str) -> None:
        """Let the primary commit without a synchronous standby (releases waiting commits).

        This is the degraded mode: commits are then on one node's disk only until a
        standby is back and ``require_standby`` is called.
        """
        self._sql(
            name, "ALTER SYSTEM SET synchronous_standby_names = ''", "SELECT pg_reload_conf()"
        )

    def require_standby(self, name: str) -> None:
        """Back to the configured synchronous standby (undoes ``run_alone``)."""
        self._sql(name, "ALTER SYSTEM RESET synchronous_standby_names", "SELECT pg_reload_conf()")

    def rejoin(self, name: str, *, timeout: float = 60.0) -> None:
        """Bring a former primary back as the standby of the current one, with pg_rewind."""
        primary = self.primary()
        if primary is None or primary == name:
            raise InfraError(f"{name} can only rejoin a running primary (primary: {primary})")
        source, target = self.node(primary), self.node(name)
        if target.pid is not None:
            self.stop_node(name)
        # Without a checkpoint pg_rewind reads the old timeline from the new primary's
        # control file and wrongly concludes that nothing diverged.
        self._sql(primary, "CHECKPOINT")
        self._pg(
            "pg_rewind",
            f"--target-pgdata={target.data}",
            f"--source-server=host=127.0.0.1 port={source.port} user=postgres dbname=postgres",
            "-R",
            what=f"pg_rewind {name} from {primary}",
            timeout=300,
        )
        self.start_node(name, timeout=timeout)
        # pg_rewind copied the primary's ALTER SYSTEM file, including its degraded mode.
        self.require_standby(name)
        self.require_standby(primary)
        self.wait_sync(primary, name, timeout=timeout)

    def destroy(self) -> None:
        for node in self.nodes:
            self.kill_node(node.name)
        run(["rm", "-rf", str(self.home)], what="removing the pair's data", timeout=60)


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (the server's backends and helpers), from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(pid):
            out.append(int(entry.name))
    return out


def wait_writable(url: str, *, timeout: float) -> float:
    """Seconds until the multi-host URL reaches a writable node (after a failover)."""
    started = time.monotonic()

    def writable() -> bool:
        try:
            with psycopg.connect(url, connect_timeout=2, autocommit=True) as conn:
                return conn.execute("SELECT NOT pg_is_in_recovery()").fetchone() == (True,)
        except psycopg.Error:
            return False

    wait_until(writable, timeout=timeout, interval=0.1, what="a writable PostgreSQL", log=None)
    return time.monotonic() - started
