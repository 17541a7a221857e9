"""The replicated topology's infrastructure faults, on the chaos run's cluster and pair.

Each is carried out with the `pos.infra` code an operator uses (`KafkaCluster`,
`PostgresPair`: the same steps as `pos infra failover` and `pos infra rejoin`), and each
tier's faults are serialised: a rolling restart waits until a killed leader is back in
every ISR (two brokers down at once would be another fault: the cluster refuses writes),
a rejoin waits for its failover. The one exception is deliberate: the two-broker outage,
the loss of the quorum, during which no write can be acknowledged.

A crash is a real SIGKILL: no controlled shutdown moves leadership away first, so the
cluster notices only when the dead node's session times out, as after a power cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from pos.infra.kafka_cluster import KafkaCluster
from pos.infra.pg_pair import PostgresPair
from pos.infra.process import InfraError, pid_alive, wait_until

#: A node restarted on a loaded 2-core machine takes up to ~25 s to be back in every ISR.
REJOIN_TIMEOUT = 180.0
#: A dead broker is fenced after ``broker.session.timeout.ms`` (3 s), more when the dead
#: node was the active controller (a new one is elected first).
FENCE_TIMEOUT = 60.0


@dataclass
class ReplicatedTarget:
    cluster: KafkaCluster
    pair: PostgresPair
    order_topic: str
    kafka_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    postgres_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def kill_leader(self, downtime: float) -> str:
        """SIGKILL the node leading most of the order topic's partitions; once the cluster
        has fenced it (leadership moved), keep it down ``downtime``, then restart it and
        wait until it is back in every ISR."""
        async with self.kafka_lock:
            node, led, total = await asyncio.to_thread(self._most_leading)
            started = time.monotonic()
            await asyncio.to_thread(sigkill_node, self.cluster, node)
            await asyncio.to_thread(wait_fenced, self.cluster, node)
            fenced = time.monotonic() - started
            await asyncio.sleep(downtime)
            await asyncio.to_thread(restart, self.cluster, node)
            back = time.monotonic() - started
            return (
                f"node {node} (led {led} of {total} partitions): fenced {fenced:.0f} s, "
                f"in sync {back:.0f} s after the kill"
            )

    async def two_down(self, outage: float) -> str:
        """SIGKILL the leading node and another: the quorum is lost and no write can reach
        ``min.insync.replicas`` until one is back. Both restart after ``outage``."""
        async with self.kafka_lock:
            node, _, _ = await asyncio.to_thread(self._most_leading)
            other = next(n.node_id for n in self.cluster.nodes if n.node_id != node)
            started = time.monotonic()
            for victim in (node, other):
                await asyncio.to_thread(sigkill_node, self.cluster, victim)
            await asyncio.sleep(outage)
            for victim in (node, other):  # both JVMs start at once, then each is awaited
                self.cluster.spawn_node(victim)
            for victim in (node, other):
                await asyncio.to_thread(restart, self.cluster, victim)
            back = time.monotonic() - started
            return f"nodes {node} and {other}: down {outage:.0f} s, in sync {back:.0f} s on"

    async def rolling_restart(self) -> str:
        """Each node in turn: a clean stop (leadership handed over), a start, back in every
        ISR before the next one stops."""
        async with self.kafka_lock:
            took = []
            for node in self.cluster.nodes:
                started = time.monotonic()
                await asyncio.to_thread(self.cluster.stop_node, node.node_id)
                await asyncio.to_thread(wait_fenced, self.cluster, node.node_id)
                await asyncio.to_thread(restart, self.cluster, node.node_id)
                took.append(f"{node.node_id} {time.monotonic() - started:.0f} s")
            return "nodes " + ", ".join(took)

    def _most_leading(self) -> tuple[int, int, int]:
        """The node leading most partitions of the order topic, how many, of how many."""
        parts = self.cluster.partitions([self.order_topic])
        node, led = Counter(p.leader for p in parts).most_common(1)[0]
        return node, led, len(parts)

    async def fail_over(self, detection: float, cut: Callable[[float, float], None]) -> str:
        """SIGKILL the primary; ``detection`` later, fence it and promote the standby.

        ``cut(before, after)`` records when the relays lost their sessions (their batches
        in flight may be sent again)."""
        async with self.postgres_lock:
            pair = self.pair
            primary = await asyncio.to_thread(pair.primary)
            if primary is None:
                raise RuntimeError("no PostgreSQL primary to kill")
            before = time.time()
            await asyncio.to_thread(pair.kill_node, primary)
            cut(before, time.time())
            await asyncio.sleep(detection)
            new = await asyncio.to_thread(pair.failover)
            return f"{primary} killed, {new} promoted"

    async def rejoin(self) -> str:
        """The node a failover left down comes back as the primary's synchronous standby."""
        async with self.postgres_lock:
            pair = self.pair
            roles = {n.name: await asyncio.to_thread(pair.role, n.name) for n in pair.nodes}
            down = [name for name, role in roles.items() if role == "down"]
            if not down:
                raise RuntimeError(f"no node to rejoin (roles: {roles})")
            await asyncio.to_thread(pair.rejoin, down[0])
            return f"{down[0]} rejoined as standby"


def wait_fenced(cluster: KafkaCluster, node_id: int) -> None:
    """Until the cluster no longer lists the node as a broker (its session timed out or it
    shut down cleanly) and leads nothing with it: only then do the ISRs show whether it
    is back (until then "back in every ISR" holds at once), and may the next node go."""

    def fenced() -> bool:
        if node_id in cluster.live_brokers(timeout=1.0):
            return False
        try:
            return all(p.leader != node_id for p in cluster.partitions())
        except KafkaException:
            return False

    wait_until(fenced, timeout=FENCE_TIMEOUT, interval=0.2, what="fencing", log=None)


def restart(cluster: KafkaCluster, node_id: int) -> None:
    """Start the node (if not started yet), wait until it answers on its own port (after
    losing the quorum the others' metadata still lists it) and is back in every ISR."""
    cluster.spawn_node(node_id)
    node = cluster.node(node_id)

    def answers() -> bool:
        if node.pid is None:
            raise InfraError(f"Kafka node {node_id} exited; see {node.log}")
        client = AdminClient({"bootstrap.servers": node.address, "log_level": 0})
        try:
            return node_id in client.list_topics(timeout=1.0).brokers
        except KafkaException:
            return False

    wait_until(answers, timeout=REJOIN_TIMEOUT, interval=0.3, what="restart", log=node.log)
    cluster.wait_in_sync(node_id, timeout=REJOIN_TIMEOUT)


def sigkill_node(cluster: KafkaCluster, node_id: int) -> None:
    """SIGKILL only (``KafkaCluster.kill_node`` sends SIGTERM first, which starts a
    controlled shutdown), then wait until the process is gone."""
    node = cluster.node(node_id)
    pid = node.pid
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not pid_alive(pid), timeout=30, what="broker kill", log=None)
    node.pid_file.unlink(missing_ok=True)
