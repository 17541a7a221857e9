"""A replicated Kafka cluster on one machine: three combined KRaft broker+controller nodes.

The production shape of the broker tier: a three-voter controller quorum, every topic
(including ``__consumer_offsets`` and the transaction log) with replication factor 3 and
``min.insync.replicas=2``, unclean leader election off. An ``acks=all`` write is then on two
disks before it is acknowledged and survives the loss of any one node; with two nodes
gone the cluster stops accepting writes rather than lose them.

``broker.session.timeout.ms`` is lowered to 3 s: until the controller fences a dead broker,
``acks=all`` writes wait for it as a follower on every partition, so this bounds the write
stall after a crash (measured here: 8-13 s at the default of 9 s, 3-4 s at 3 s).

Each node has its own ports, data dir, pid file and log under ``<state>/kafka-cluster/nI``,
apart from the single development broker, so both can run side by side.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    NewTopic,
)

from pos.infra import kafka
from pos.infra.kafka_nodes import (
    NODE_PROPERTIES,
    ClusterState,
    KafkaNode,
    PartitionState,
    new_cluster_id,
)
from pos.infra.process import (
    InfraError,
    port_open,
    read_pid,
    run,
    spawn_detached,
    terminate,
    wait_until,
)

#: Replication of every topic of the cluster, and the replicas that must have a write.
REPLICATION_FACTOR = 3
MIN_INSYNC_REPLICAS = 2

TOPIC_CONFIG = {
    "min.insync.replicas": str(MIN_INSYNC_REPLICAS),
    "unclean.leader.election.enable": "false",
}


class KafkaCluster:
    """Start, stop, kill and inspect the nodes of one local replicated cluster."""

    def __init__(
        self,
        home: Path,
        *,
        ports: list[tuple[int, int]],
        libs: Path,
        heap: str = "-Xmx512m -Xms512m",
    ) -> None:
        self.home = home
        self.libs = libs  # the jars (KAFKA_LIBS_DIR), shared with the single broker
        self.heap = heap
        self.nodes = tuple(
            KafkaNode(i, port, cport, home / f"n{i}") for i, (port, cport) in enumerate(ports, 1)
        )

    @classmethod
    def from_base_port(
        cls, home: Path, base: int, size: int = 3, *, libs: Path, heap: str = "-Xmx512m -Xms512m"
    ) -> KafkaCluster:
        """Node i gets broker port base+2i and controller port base+2i+1 (i from 1)."""
        ports = [(base + 2 * i, base + 2 * i + 1) for i in range(1, size + 1)]
        return cls(home, ports=ports, libs=libs, heap=heap)

    @property
    def bootstrap(self) -> str:
        """KAFKA_BROKER for clients: every node, so any one of them can bootstrap."""
        return ",".join(n.address for n in self.nodes)

    @property
    def replication_factor(self) -> int:
        return min(REPLICATION_FACTOR, len(self.nodes))

    def node(self, node_id: int) -> KafkaNode:
        return self.nodes[node_id - 1]

    def admin(self) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})

    # --- lifecycle -------------------------------------------------------------------

    def running(self) -> bool:
        return any(n.pid is not None for n in self.nodes)

    def _prepare(self) -> None:
        kafka.ensure_jars(self.libs)
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        rf = self.replication_factor
        min_isr = min(MIN_INSYNC_REPLICAS, rf)
        for node in self.nodes:
            node.home.mkdir(parents=True, exist_ok=True)
            node.props.write_text(
                NODE_PROPERTIES.format(
                    node_id=node.node_id,
                    voters=voters,
                    port=node.port,
                    controller_port=node.controller_port,
                    data=node.data,
                    rf=rf,
                    min_isr=min_isr,
                )
            )
            (node.home / "log4j2.properties").write_text(kafka.LOG4J2_PROPERTIES)
        if all((n.data / "meta.properties").exists() for n in self.nodes):
            return
        # One cluster id for all three, so they recognise each other; formatted in parallel
        # because each format is a JVM start (seconds on a loaded machine).
        cluster_id = new_cluster_id()
        procs = [
            subprocess.Popen(
                _java(
                    self.libs,
                    "kafka.tools.StorageTool",
                    *("format", "-t", cluster_id, "-c", str(n.props), "--ignore-formatted"),
                ),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for n in self.nodes
        ]
        for node, proc in zip(self.nodes, procs, strict=True):
            out, _ = proc.communicate(timeout=300)
            if proc.returncode != 0:
                raise InfraError(
                    f"kafka-storage format (node {node.node_id}) failed:\n{out[-2000:]}"
                )

    def start(self, *, timeout: float = 120.0) -> None:
        """Start every node that is not running and wait until all of them are brokers."""
        for node in self.nodes:
            if node.pid is None and port_open("127.0.0.1", node.port):
                raise InfraError(f"port {node.port} is taken: node {node.node_id} cannot start")
        self._prepare()
        for node in self.nodes:
            if node.pid is None:
                self._spawn(node)
        self.wait_brokers(len(self.nodes), timeout=timeout)

    def _spawn(self, node: KafkaNode) -> None:
        cmd = _java(
            self.libs,
            f"-Dlog4j2.configurationFile={node.home / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={node.home}",
            "kafka.Kafka",
            str(node.props),
            heap=self.heap,
        )
        node.pid_file.write_text(f"{spawn_detached(cmd, log=node.log, cwd=node.home)}\n")

    def spawn_node(self, node_id: int) -> None:
        """(Re)start one node on its data without waiting for it."""
        node = self.node(node_id)
        if node.pid is None:
            self._spawn(node)

    def start_node(self, node_id: int, *, timeout: float = 90.0) -> None:
        """(Re)start one node on its data and wait until it is back in every ISR."""
        self.spawn_node(node_id)
        self.wait_in_sync(node_id, timeout=timeout)

    def stop_node(self, node_id: int, *, timeout: float = 30.0) -> None:
        """A clean shutdown of one node: leadership moves away before it exits."""
        node = self.node(node_id)
        pid = node.pid
        if pid is not None:
            terminate(pid, timeout=timeout)
        node.pid_file.unlink(missing_ok=True)

    def kill_node(self, node_id: int) -> None:
        """SIGKILL one node: the abrupt loss of a broker and a controller voter."""
        node = self.node(node_id)
        pid = node.pid
        if pid is not None:
            terminate(pid, timeout=0)
            wait_until(lambda: read_pid(node.pid_file) is None, timeout=30, what="kill", log=None)
        node.pid_file.unlink(missing_ok=True)

    def restart_node(self, node_id: int, *, timeout: float = 90.0) -> None:
        self.stop_node(node_id)
        self.start_node(node_id, timeout=timeout)

    def stop(self) -> bool:
        """Stop every node (cleanly, in parallel); True when something was running."""
        pids = [(n, n.pid) for n in self.nodes]
        live = [(n, pid) for n, pid in pids if pid is not None]
        for _, pid in live:  # all at once: each takes seconds to hand leadership over
            _sigterm(pid)
        for node, pid in live:
            terminate(pid, timeout=30)
            node.pid_file.unlink(missing_ok=True)
        return bool(live)

    def destroy(self) -> None:
        """Kill every node and delete the cluster's state (tests, scratch clusters)."""
        for node in self.nodes:
            self.kill_node(node.node_id)
        shutil.rmtree(self.home, ignore_errors=True)

    # --- inspection ------------------------------------------------------------------

    def live_brokers(self, timeout: float = 2.0) -> set[int]:
        try:
            md = self.admin().list_topics(timeout=timeout)
        except KafkaException:
            return set()
        return set(md.brokers)

    def wait_brokers(self, count: int, *, timeout: float) -> None:
        logs = self.nodes[0].log

        def ready() -> bool:
            dead = [n.node_id for n in self.nodes if n.pid is None]
            if dead:
                raise InfraError(f"Kafka node(s) {dead} exited; see {self.home}/n*/kafka.log")
            return len(self.live_brokers(timeout=1.0)) >= count

        wait_until(ready, timeout=timeout, interval=0.3, what="Kafka cluster", log=logs)

    def partitions(self, topics: list[str] | None = None) -> list[PartitionState]:
        md = self.admin().list_topics(timeout=5)
        out = []
        for name, topic in sorted(md.topics.items()):
            if topics is not None and name not in topics:
                continue
            for pid, p in sorted(topic.partitions.items()):
                out.append(PartitionState(name, pid, p.leader, tuple(p.replicas), tuple(p.isrs)))
        return out

    def leader_of(self, topic: str, partition: int = 0) -> int:
        for p in self.partitions([topic]):
            if p.partition == partition:
                return p.leader
        raise InfraError(f"{topic}[{partition}] is not in the cluster's metadata")

    def coordinator_of(self, group: str) -> int:
        """The broker acting as the consumer group's coordinator."""
        client = self.admin()  # referenced until the answer: a dropped client cancels it
        fut = client.describe_consumer_groups([group], request_timeout=10)[group]
        node_id: int = fut.result(timeout=15).coordinator.id
        return node_id

    def wait_in_sync(self, node_id: int, *, timeout: float) -> None:
        """Until the node is a broker again and in the ISR of every partition it replicates."""

        def caught_up() -> bool:
            if node_id not in self.live_brokers(timeout=1.0):
                return False
            try:
                parts = self.partitions()
            except KafkaException:
                return False
            return all(node_id in p.isr for p in parts if node_id in p.replicas)

        wait_until(
            caught_up, timeout=timeout, interval=0.3, what="rejoin", log=self.node(node_id).log
        )

    def quorum(self) -> str:
        """The KRaft quorum as its own tool reports it (leader id, epoch, voters' lag)."""
        out = run(
            _java(
                self.libs,
                "org.apache.kafka.tools.MetadataQuorumCommand",
                "--bootstrap-server",
                self.bootstrap,
                "describe",
                "--status",
            ),
            what="kafka-metadata-quorum",
            timeout=60,
        )
        keep = ("LeaderId", "LeaderEpoch", "HighWatermark", "CurrentVoters", "CurrentObservers")
        return "\n".join(line for line in out.splitlines() if line.startswith(keep))

    def state(self, topics: list[str] | None = None) -> ClusterState:
        try:
            quorum = self.quorum()
        except InfraError as exc:
            quorum = f"unavailable: {str(exc).splitlines()[0]}"
        return ClusterState(
            tuple(sorted(self.live_brokers())), quorum, tuple(self.partitions(topics))
        )

    # --- topics ----------------------------------------------------------------------

    def ensure_topics(self, topics: dict[str, int], *, timeout: float = 30.0) -> None:
        """Create replicated topics (name → partitions) if missing and wait for full ISRs."""
        client = self.admin()
        rf = self.replication_factor
        config = {**TOPIC_CONFIG, "min.insync.replicas": str(min(MIN_INSYNC_REPLICAS, rf))}
        kafka.create_topics(
            client,
            [
                NewTopic(t, num_partitions=n, replication_factor=rf, config=config)
                for t, n in topics.items()
            ],
        )

        def replicated() -> bool:
            parts = self.partitions(list(topics))
            return {p.topic for p in parts} == set(topics) and all(
                p.leader >= 0 and len(p.isr) == rf for p in parts
            )

        wait_until(replicated, timeout=timeout, what="replicated topics", log=self.nodes[0].log)

    def topic_config(self, topic: str) -> dict[str, str]:
        res = ConfigResource(ConfigResource.Type.TOPIC, topic)
        client = self.admin()  # referenced until the answer: a dropped client cancels it
        entries = client.describe_configs([res])[res].result(timeout=15)
        return {k: v.value for k, v in entries.items()}


#: The command-line tools are short-lived JVMs: the client JIT alone starts them in a
#: fraction of the CPU time, which matters on a small, busy machine.
TOOL_JVM = "-Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def _java(libs: Path, *args: str, heap: str = TOOL_JVM) -> list[str]:
    return ["java", *heap.split(), "-cp", f"{libs}/*", *args]


def _sigterm(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
