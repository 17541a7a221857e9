"""The replicated topology of `pos infra up --kafka-brokers 3 --postgres-standby`.

Where the 3-node Kafka cluster and the PostgreSQL pair live and which ports they use, from
the settings, so the CLI, the chaos tool and the tests all find the same nodes. Both sit
beside the single development broker and cluster (other ports, other state dirs), which
stay the default of `make run` and `make test`.
"""

from __future__ import annotations

from pos.config import InfraSettings, KafkaSettings
from pos.infra import pg_pair
from pos.infra.kafka_cluster import KafkaCluster
from pos.infra.pg_pair import PostgresPair
from pos.infra.process import state_dir

CLUSTER_SIZE = 3


def kafka_cluster(settings: InfraSettings | None = None) -> KafkaCluster:
    settings = settings or InfraSettings()
    return KafkaCluster.from_base_port(
        state_dir() / "kafka-cluster",
        settings.kafka_cluster_port_base,
        CLUSTER_SIZE,
        heap=settings.kafka_cluster_heap_opts,
    )


def postgres_pair(settings: InfraSettings | None = None) -> PostgresPair:
    base = (settings or InfraSettings()).postgres_pair_port_base
    return PostgresPair(pg_pair.default_home(), (base, base + 1))


def cluster_exists() -> bool:
    return (state_dir() / "kafka-cluster").is_dir()


def pair_exists() -> bool:
    return any((node.data / "PG_VERSION").exists() for node in postgres_pair().nodes)


def order_topics(settings: KafkaSettings | None = None) -> dict[str, int]:
    settings = settings or KafkaSettings()
    return {settings.order_topic: settings.order_topic_partitions, settings.dlq_topic: 1}
