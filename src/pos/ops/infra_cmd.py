"""`pos infra ...` and `pos migrate`: thin wrappers that print what happened."""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from pos.exits import CommandError, explain
from pos.infra import stack
from pos.infra.kafka_nodes import ClusterState
from pos.infra.pg_pair import NodeState
from pos.infra.process import InfraError, ServiceStatus

console = Console(stderr=False, highlight=False)


def _table(statuses: list[ServiceStatus]) -> Table:
    table = Table("service", "state", "address", "managed by pos", "detail")
    for s in statuses:
        state = "[green]running[/]" if s.running else "[red]stopped[/]"
        managed = "yes" if s.managed else ("no (external)" if s.running else "-")
        table.add_row(s.name, state, s.address, managed, s.detail)
    return table


def _cluster_tables(state: ClusterState) -> list[Table | str]:
    brokers = ", ".join(str(b) for b in state.brokers) or "none answers"
    out: list[Table | str] = [f"Kafka cluster: brokers up: {brokers}", state.quorum]
    if state.partitions:
        table = Table("topic", "partition", "leader", "replicas", "in sync (ISR)")
        for p in state.partitions:
            short = len(p.isr) < len(p.replicas)
            isr = ",".join(map(str, p.isr))
            table.add_row(
                p.topic,
                str(p.partition),
                str(p.leader) if p.leader >= 0 else "[red]none[/]",
                ",".join(map(str, p.replicas)),
                f"[yellow]{isr}[/]" if short else isr,
            )
        out.append(table)
    return out


def _pair_table(nodes: list[NodeState]) -> Table:
    table = Table("postgres node", "port", "role", "replication")
    for n in nodes:
        role = {"primary": "[green]primary[/]", "down": "[red]down[/]"}.get(n.role, n.role)
        table.add_row(n.name, str(n.port), role, n.replication)
    return table


def _show(topology: stack.Topology) -> None:
    if topology.services:
        console.print(_table(topology.services))
    if topology.postgres_nodes is not None:
        console.print(_pair_table(topology.postgres_nodes))
    if topology.kafka_cluster is not None:
        for part in _cluster_tables(topology.kafka_cluster):
            console.print(part)
    for key, value in topology.environment.items():
        console.print(f"export {key}='{value}'", soft_wrap=True)


def up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        topology = stack.up(
            args.settings,
            kafka_brokers=getattr(args, "kafka_brokers", 1),
            postgres_standby=getattr(args, "postgres_standby", False),
        )
    except InfraError as exc:
        console.print(f"[red]infra up failed:[/] {exc}")
        return 1
    _show(topology)
    console.print(f"infra ready in {time.monotonic() - started:.1f} s")
    return 0


def down(args: argparse.Namespace) -> int:
    stopped = stack.down(args.settings.infra)
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing started by pos runs")
    return 0


def status(args: argparse.Namespace) -> int:
    topology = stack.status(args.settings)
    _show(topology)
    return 0 if all(s.running for s in topology.services) else 3


def failover(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        new = stack.failover(args.settings.infra)
    except InfraError as exc:
        console.print(f"[red]failover failed:[/] {exc}")
        return 1
    console.print(
        f"{new} is the primary ({time.monotonic() - started:.1f} s); it commits without a "
        "standby until `pos infra rejoin` brings the old primary back as one"
    )
    return 0


def rejoin(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        name = stack.rejoin(args.settings.infra, args.node)
    except InfraError as exc:
        console.print(f"[red]rejoin failed:[/] {exc}")
        return 1
    console.print(f"{name} streams as the synchronous standby ({time.monotonic() - started:.1f} s)")
    return 0


def migrate(args: argparse.Namespace) -> int:
    from pos.db import migrate as migrations

    url = args.settings.db.database_url
    try:
        if args.down:
            migrations.downgrade(url, revision=args.down)
        else:
            migrations.upgrade(url)
    except Exception as exc:  # a failed migration must say why, not dump a traceback
        if explain(exc) is not None:
            raise  # unreachable database, bad setting: the CLI boundary says so
        raise CommandError(f"migration failed: {str(exc).strip().splitlines()[0]}") from exc
    print(f"database at revision {migrations.current_revision(url)}")
    return 0
