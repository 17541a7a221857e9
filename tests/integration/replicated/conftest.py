"""One replicated topology for the tests of this package: 3 Kafka nodes and a PostgreSQL pair.

Started once (Kafka and PostgreSQL in parallel, each a minute or so on a busy 2-core
machine) on ports of their own, under the session's tmp dir, and destroyed after the
package's last test: the xdist scheduler runs the whole package on one worker in a row,
and three idle brokers kept to the end of the session would only burn CPU the rest of the
suite needs. Each test gets it back healthy: a node a previous
test killed is restarted, a failed-over pair gets its old primary back as the standby.

Ports are picked below the kernel's ephemeral range (`free_port_block`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from pos.config import DatabaseSettings, InfraSettings
from pos.db import migrate
from pos.infra import postgres
from pos.infra.kafka_cluster import KafkaCluster
from pos.infra.pg_pair import PostgresPair
from pos.scratch.processes import free_port_block
from tests.support.scratch_kafka import TEST_BROKER_JVM

pytestmark = pytest.mark.replicated


@dataclass
class Replicated:
    cluster: KafkaCluster
    pair: PostgresPair
    database_url: str
    started_in: float

    @property
    def bootstrap(self) -> str:
        return self.cluster.bootstrap

    def restart_dead_brokers(self) -> None:
        """Spawn the nodes a test killed, without waiting: they catch up meanwhile."""
        for broker in self.cluster.nodes:
            if broker.pid is None:
                self.cluster.spawn_node(broker.node_id)

    def heal_kafka(self) -> None:
        """Every Kafka node running and back in every ISR."""
        for broker in self.cluster.nodes:
            self.cluster.start_node(broker.node_id)

    def heal_postgres(self) -> None:
        """The pair is a primary with its synchronous standby again."""
        primary = self.pair.primary()
        if primary is None:
            self.pair.failover()
            primary = self.pair.primary()
        assert primary is not None
        for node in self.pair.nodes:
            if node.name != primary and self.pair.role(node.name) != "standby":
                self.pair.rejoin(node.name)
        self.pair.require_standby(primary)


@pytest.fixture(scope="package")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicated]:
    started = time.monotonic()
    base = free_port_block(10)
    cluster = KafkaCluster.from_base_port(
        tmp_path_factory.mktemp("kafka-cluster"),
        base,
        libs=InfraSettings().kafka_libs_dir,
        heap=TEST_BROKER_JVM,
    )
    # A pytest tmp dir is private to root: the postgres user needs a path it can reach.
    pg_home = Path("/var/tmp") / f"pos-test-pg-pair-{base}"
    pair = PostgresPair(
        pg_home if postgres.user_prefix() else tmp_path_factory.mktemp("pg"), (base + 8, base + 9)
    )
    try:
        with ThreadPoolExecutor(2) as pool:
            kafka_up = pool.submit(cluster.start)
            pg_up = pool.submit(pair.start)
            pg_up.result()
            kafka_up.result()
        url = pair.database_url("posdb")
        postgres.ensure_database(DatabaseSettings(database_url=url))
        migrate.upgrade(url)
        infra = Replicated(cluster, pair, url, time.monotonic() - started)
        print(f"\nreplicated topology up in {infra.started_in:.1f} s")
        yield infra
    finally:
        with ThreadPoolExecutor(2) as pool:
            pool.submit(cluster.destroy)
            pool.submit(pair.destroy)


@pytest.fixture
def kafka_topology(replicated: Replicated) -> Iterator[Replicated]:
    """The cluster with all three nodes in sync; a node the test kills is restarted after
    it in the background (the next Kafka test waits for it, other tests do not)."""
    replicated.heal_kafka()
    yield replicated
    replicated.restart_dead_brokers()


@pytest.fixture
def pg_topology(replicated: Replicated) -> Replicated:
    replicated.heal_postgres()
    return replicated


@pytest.fixture
def topology(kafka_topology: Replicated, pg_topology: Replicated) -> Replicated:
    """Both healed, for a test on the pair that also creates topics on the cluster: topics
    with three replicas need every node back, not one still starting."""
    return pg_topology
