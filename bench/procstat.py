"""CPU seconds of the processes behind a benchmark, read from ``/proc``.

Each process is charged its ``utime + stime`` (and ``cutime + cstime``: children it has
already waited for) from ``/proc/<pid>/stat``, summed over the process and its live
descendants, so a service that forks workers is charged for them. PostgreSQL is one
process per connection: it is charged as the backends connected to the benchmark's own
database plus the server's background processes (WAL writer, checkpointer, autovacuum),
found in ``pg_stat_activity``. Kafka is the JVM that listens on the broker's port.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import psycopg

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after its last ")".
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of one process (0 when it is gone)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    # After the name: state ppid ... utime(12) stime(13) cutime(14) cstime(15), 0-based
    # from the field after the name.
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS


def descendants(pid: int) -> set[int]:
    """``pid`` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo += children.get(current, [])
    return found


def tree_seconds(pid: int) -> float:
    return sum(cpu_seconds(p) for p in descendants(pid))


def listening_pid(port: int) -> int | None:
    """The process listening on TCP ``port`` (root sees every process's sockets)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(cols[9])
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    return int(entry.name)
        except OSError:
            continue
    return None


def postgres_pids(db_url: str) -> set[int]:
    """Backends on the benchmark's database and the server's own background processes."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE (datname = current_database() AND pid <> pg_backend_pid())"
            "    OR backend_type <> 'client backend'"
        ).fetchall()
    return {int(r[0]) for r in rows}


class CpuMeter:
    """Named groups of processes; ``snapshot`` reads them, ``per_order`` compares two."""

    def __init__(self, trees: Mapping[str, int], db_url: str | None, kafka_port: int) -> None:
        self.trees = dict(trees)  # name -> root pid, charged with its descendants
        self.db_url = db_url
        self.kafka_pid = listening_pid(kafka_port)

    def snapshot(self) -> dict[str, float]:
        seconds = {name: tree_seconds(pid) for name, pid in self.trees.items()}
        if self.db_url is not None:
            seconds["postgres"] = _pg_seconds(postgres_pids(self.db_url))
        if self.kafka_pid is not None:
            seconds["kafka"] = cpu_seconds(self.kafka_pid)
        return seconds

    @staticmethod
    def per_order(
        before: Mapping[str, float], after: Mapping[str, float], orders: int
    ) -> dict[str, float]:
        """CPU milliseconds per order of each group between two snapshots."""
        return {
            name: max(0.0, after[name] - before.get(name, 0.0)) * 1000 / max(orders, 1)
            for name in after
        }


_pg_seen: dict[int, float] = {}


def _pg_seconds(pids: Iterable[int]) -> float:
    """Backends come and go (autovacuum workers): a backend that exited keeps the seconds
    last read for it, so a later snapshot never goes down."""
    for pid in pids:
        _pg_seen[pid] = max(_pg_seen.get(pid, 0.0), cpu_seconds(pid))
    return sum(_pg_seen.values())
