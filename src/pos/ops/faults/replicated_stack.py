"""The scratch stack of `pos chaos --topology replicated`: the production topology.

A three-node KRaft cluster (replication factor 3, ``min.insync.replicas=2``, unclean leader
election off) and a PostgreSQL primary with its synchronous standby, built by the same
`pos.infra` code as `pos infra up --kafka-brokers 3 --postgres-standby`, with their state
under the chaos state dir and ports of their own, so a chaos run never touches the
development topology or a test session. The services get the multi-host DATABASE_URL and
all three brokers, as in production.

``KAFKA_CLUSTER_HEAP_OPTS`` from the run's settings is kept: the test suite starts the nodes
with lighter JVM flags.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pos.config import Settings
from pos.db import migrate
from pos.infra import postgres, topology
from pos.infra.kafka_cluster import KafkaCluster
from pos.infra.pg_pair import PostgresPair
from pos.ops.faults.scratch import Overrides, StackLayout, overridden, services_overrides
from pos.scratch.processes import free_port, free_port_block

#: Kafka node i on base+2i and base+2i+1 (i = 1..3), PostgreSQL on base+8 and base+9.
PORTS = 10
PAIR_OFFSET = 8


@dataclass(frozen=True)
class ReplicatedStack(StackLayout):
    port_base: int

    @classmethod
    def allocate(cls, state_dir: Path, base: Settings) -> ReplicatedStack:
        return cls(
            state_dir.resolve(),
            base,
            api_port=free_port(),
            third_party_port=free_port(),
            port_base=free_port_block(PORTS),
        )

    def describe(self) -> str:
        pair = self.port_base + PAIR_OFFSET
        return (
            f"scratch Kafka cluster :{self.port_base + 2},{self.port_base + 4},"
            f"{self.port_base + 6} and PostgreSQL pair :{pair},{pair + 1}"
        )

    @cached_property
    def overrides(self) -> Overrides:
        """The cluster and the pair: their ports, then the addresses that follow from them."""
        values = services_overrides(self.state_dir, self.api_port, self.third_party_port)
        values["infra"] |= {
            "kafka_cluster_port_base": self.port_base,
            "postgres_pair_port_base": self.port_base + PAIR_OFFSET,
        }
        infra = overridden(self.base, values).infra
        values["db"] = {"database_url": topology.postgres_pair(infra).database_url()}
        values["kafka"] |= {"kafka_broker": topology.kafka_cluster(infra).bootstrap}
        return values

    def cluster(self) -> KafkaCluster:
        return topology.kafka_cluster(self.settings.infra)

    def pair(self) -> PostgresPair:
        return topology.postgres_pair(self.settings.infra)

    def provision(self) -> None:
        """Fresh nodes every run (a run killed before its teardown may have left some)."""
        settings = self.settings
        cluster, pair = self.cluster(), self.pair()
        with ThreadPoolExecutor(2) as pool:
            for done in [pool.submit(cluster.destroy), pool.submit(pair.destroy)]:
                done.result()
        for leftover in ("third_party", "logs", "fleet"):
            shutil.rmtree(self.state_dir / leftover, ignore_errors=True)
        self.logs.mkdir(parents=True)
        self.fleet.mkdir()
        # Both tiers at once: each is mostly waiting for its own processes.
        with ThreadPoolExecutor(2) as pool:
            for done in [pool.submit(cluster.start), pool.submit(pair.start)]:
                done.result()
        cluster.ensure_topics(topology.order_topics(settings.kafka))
        postgres.ensure_database(settings.db)
        migrate.upgrade(settings.db.database_url)

    def teardown(self, *, keep_data: bool) -> None:
        """Stop every node; ``keep_data`` leaves their data for a post-mortem."""
        cluster, pair = self.cluster(), self.pair()
        jobs: list[Callable[[], object]] = (
            [cluster.stop, pair.stop] if keep_data else [cluster.destroy, pair.destroy]
        )
        with ThreadPoolExecutor(2) as pool:
            for done in [pool.submit(job) for job in jobs]:
                done.result()
