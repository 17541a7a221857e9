"""`pos infra up|down|status`: PostgreSQL and Kafka together, then migrations and topics."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pos.config import DatabaseSettings, InfraSettings, Settings
from pos.infra import kafka, postgres, topology
from pos.infra.kafka_nodes import ClusterState
from pos.infra.pg_pair import NodeState
from pos.infra.process import InfraError, ServiceStatus


@dataclass
class Topology:
    """What `up`/`status` report: services, and the replicated pieces when they exist."""

    services: list[ServiceStatus] = field(default_factory=list)
    kafka_cluster: ClusterState | None = None
    postgres_nodes: list[NodeState] | None = None
    #: Environment lines a user exports to point the services at what runs.
    environment: dict[str, str] = field(default_factory=dict)


def up(
    settings: Settings,
    *,
    migrate: bool = True,
    kafka_brokers: int = 1,
    postgres_standby: bool = False,
) -> Topology:
    """Idempotent: each piece that already answers is only checked, so a second `up` is fast.

    ``kafka_brokers=3`` starts the replicated cluster instead of the single broker, and
    ``postgres_standby`` the primary + synchronous standby instead of the single cluster.
    """
    if kafka_brokers not in (1, topology.CLUSTER_SIZE):
        raise InfraError(f"--kafka-brokers takes 1 or {topology.CLUSTER_SIZE}")
    result = Topology()
    if not postgres_standby:
        postgres.refuse_remote(settings.db)
    if kafka_brokers == 1:
        kafka.refuse_remote(settings.kafka)
    # The two tiers start in parallel: each is mostly waiting for its own processes.
    with ThreadPoolExecutor(2) as pool:
        db_started = pool.submit(_database_up, result, settings, standby=postgres_standby)
        kafka_started = pool.submit(_kafka_up, result, settings, brokers=kafka_brokers)
        db = db_started.result()
        kafka_started.result()
    result.services.sort(key=lambda s: s.name != "postgres")  # postgres first, as always
    if migrate:
        from pos.db import migrate as migrations
        from pos.db.schema_head import head_revision

        if migrations.current_revision(db.database_url) != head_revision():
            migrations.upgrade(db.database_url)
    return result


def _database_up(result: Topology, settings: Settings, *, standby: bool) -> DatabaseSettings:
    if standby:
        pair = topology.postgres_pair(settings.infra)
        pair.start()
        db = settings.db.model_copy(update={"database_url": pair.database_url()})
        postgres.ensure_database(db)
        result.postgres_nodes = pair.states()
        result.environment["DATABASE_URL"] = db.database_url
        return db
    result.services.append(postgres.up(settings.db, settings.infra))
    return settings.db


def _kafka_up(result: Topology, settings: Settings, *, brokers: int) -> None:
    if brokers == 1:
        result.services.append(kafka.up(settings.kafka, settings.infra))
        return
    cluster = topology.kafka_cluster(settings.infra)
    cluster.start()
    topics = topology.order_topics(settings.kafka)
    cluster.ensure_topics(topics)
    result.kafka_cluster = cluster.state(list(topics))
    result.environment["KAFKA_BROKER"] = cluster.bootstrap


def down(infra: InfraSettings) -> list[str]:
    stopped = []
    if kafka.stop(infra):
        stopped.append("kafka")
    if postgres.down(infra):
        stopped.append("postgres")
    if topology.cluster_exists(infra) and topology.kafka_cluster(infra).stop():
        stopped.append("kafka cluster")
    if topology.pair_exists(infra) and topology.postgres_pair(infra).stop():
        stopped.append("postgres pair")
    return stopped


def status(settings: Settings) -> Topology:
    infra = settings.infra
    result = Topology(
        services=[postgres.status(settings.db, infra), kafka.status(settings.kafka, infra)]
    )
    if topology.cluster_exists(infra):
        cluster = topology.kafka_cluster(infra)
        result.environment["KAFKA_BROKER"] = cluster.bootstrap
        if cluster.running():
            result.kafka_cluster = cluster.state(list(topology.order_topics(settings.kafka)))
        else:
            result.kafka_cluster = ClusterState((), "stopped")
    if topology.pair_exists(infra):
        pair = topology.postgres_pair(infra)
        result.postgres_nodes = pair.states()
        result.environment["DATABASE_URL"] = pair.database_url()
    return result


def failover(infra: InfraSettings) -> str:
    """Promote the standby of the local pair; returns the new primary's name."""
    return topology.postgres_pair(infra).failover()


def rejoin(infra: InfraSettings, node: str | None = None) -> str:
    """Bring the pair's former primary (or ``node``) back as the standby; returns its name."""
    pair = topology.postgres_pair(infra)
    primary = pair.primary()
    name = node or next((n.name for n in pair.nodes if n.name != primary), None)
    if name is None or primary is None:
        raise InfraError("no primary runs: run `pos infra up --postgres-standby` first")
    pair.rejoin(name)
    return name
