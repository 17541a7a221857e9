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

CLUSTER_SIZE = 3


def kafka_cluster(settings: InfraSettings) -> KafkaCluster:
    return KafkaCluster.from_base_port(
        settings.pos_state_dir / "kafka-cluster",
        settings.kafka_cluster_port_base,
        CLUSTER_SIZE,
        libs=settings.kafka_libs_dir,
        heap=settings.kafka_cluster_heap_opts,
    )


def postgres_pair(settings: InfraSettings) -> PostgresPair:
    base = settings.postgres_pair_port_base
    return PostgresPair(pg_pair.default_home(settings.pos_state_dir), (base, base + 1))


def cluster_exists(settings: InfraSettings) -> bool:
    return (settings.pos_state_dir / "kafka-cluster").is_dir()


def pair_exists(settings: InfraSettings) -> bool:
    return any((node.data / "PG_VERSION").exists() for node in postgres_pair(settings).nodes)


def order_topics(settings: KafkaSettings) -> dict[str, int]:
    return {settings.order_topic: settings.order_topic_partitions, settings.dlq_topic: 1}
