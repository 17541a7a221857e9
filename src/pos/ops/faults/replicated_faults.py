"""The replicated topology's infrastructure faults, on the chaos run's cluster and pair.

Each is carried out with the `pos.infra` code an operator uses (`KafkaCluster`,
`PostgresPair`: the same steps as `pos infra failover` and `pos infra rejoin`), and each
tier's faults are serialised: a rolling restart waits until a killed leader is back in
every ISR (two brokers down at once would be another fault: the cluster refuses writes),
a rejoin waits for its failover.

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

from pos.infra.kafka_cluster import KafkaCluster
from pos.infra.pg_pair import PostgresPair
from pos.infra.process import pid_alive, wait_until

#: A node restarted on a loaded 2-core machine takes up to ~25 s to be back in every ISR.
REJOIN_TIMEOUT = 180.0


@dataclass
class ReplicatedTarget:
    cluster: KafkaCluster
    pair: PostgresPair
    order_topic: str
    kafka_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    postgres_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def kill_leader(self, downtime: float) -> str:
        """SIGKILL the node leading most of the order topic's partitions; restart it after
        ``downtime`` and wait until it is back in every ISR."""
        async with self.kafka_lock:
            cluster = self.cluster
            parts = await asyncio.to_thread(cluster.partitions, [self.order_topic])
            node, led = Counter(p.leader for p in parts).most_common(1)[0]
            await asyncio.to_thread(sigkill_node, cluster, node)
            started = time.monotonic()
            await asyncio.sleep(downtime)
            await asyncio.to_thread(cluster.start_node, node, timeout=REJOIN_TIMEOUT)
            back = time.monotonic() - started
            return f"node {node} (led {led} of {len(parts)} partitions), in sync {back:.0f} s on"

    async def rolling_restart(self) -> str:
        """Each node in turn: a clean stop (leadership handed over), a start, back in sync."""
        async with self.kafka_lock:
            took = []
            for node in self.cluster.nodes:
                started = time.monotonic()
                await asyncio.to_thread(
                    self.cluster.restart_node, node.node_id, timeout=REJOIN_TIMEOUT
                )
                took.append(f"{node.node_id} {time.monotonic() - started:.0f} s")
            return "nodes " + ", ".join(took)

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
