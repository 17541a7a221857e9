"""The pieces of a replicated Kafka cluster's nodes: configuration, identity, observed state.

Kept apart from ``kafka_cluster`` (which starts, stops and inspects the nodes) so each
module stays small.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pos.infra.process import read_pid

NODE_PROPERTIES = """\
process.roles=broker,controller
node.id={node_id}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={data}
num.partitions=6
auto.create.topics.enable=false
default.replication.factor={rf}
min.insync.replicas={min_isr}
unclean.leader.election.enable=false
offsets.topic.replication.factor={rf}
offsets.topic.num.partitions=12
transaction.state.log.replication.factor={rf}
transaction.state.log.min.isr={min_isr}
share.coordinator.state.topic.replication.factor={rf}
share.coordinator.state.topic.min.isr={min_isr}
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=268435456
"""


@dataclass(frozen=True)
class KafkaNode:
    """One combined broker+controller: its id, ports and where it keeps its state."""

    node_id: int
    port: int
    controller_port: int
    home: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def props(self) -> Path:
        return self.home / "server.properties"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def log(self) -> Path:
        return self.home / "kafka.log"

    @property
    def pid(self) -> int | None:
        return read_pid(self.pid_file)


@dataclass(frozen=True)
class PartitionState:
    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


@dataclass(frozen=True)
class ClusterState:
    """What `pos infra status` shows: live brokers, the quorum, every partition's ISR."""

    brokers: tuple[int, ...]
    quorum: str
    partitions: tuple[PartitionState, ...] = field(default=())


def new_cluster_id() -> str:
    """What ``kafka-storage random-uuid`` prints (base64url of 16 random bytes), without a JVM."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka never hands out ids that look like an option
            return text
