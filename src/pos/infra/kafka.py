"""The real Apache Kafka broker in KRaft mode, jars from Maven Central, on the machine's Java.

Single node, combined broker + controller: the smallest real Kafka there is, with the same
protocol, idempotent producer, consumer groups and rebalances as a production cluster.
Readiness is "a metadata request answers", not "the port is open": the port opens seconds
before the broker can serve a producer.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from pos.config import InfraSettings, KafkaSettings
from pos.infra.kafka_nodes import new_cluster_id
from pos.infra.process import (
    InfraError,
    ServiceStatus,
    port_open,
    read_pid,
    refuse_unreachable_remote,
    run,
    spawn_detached,
    terminate,
    wait_until,
)

POM = Path(__file__).with_name("kafka-jars.pom.xml")
# Set on every topic the project creates rather than left to the broker's default (which
# an operator may have shortened): an event stays readable for a week, so a consumer that
# was away for days still finds it. The publisher's reconciler re-issues what is lost
# anyway, but a week of retention keeps that the exception.
TOPIC_RETENTION_MS = 7 * 24 * 3600 * 1000


def home(infra: InfraSettings) -> Path:
    return infra.pos_state_dir / "kafka"


def data_dir(infra: InfraSettings) -> Path:
    return home(infra) / "data"


def pid_file(infra: InfraSettings) -> Path:
    return home(infra) / "kafka.pid"


def log_file(infra: InfraSettings) -> Path:
    return infra.pos_state_dir / "logs" / "kafka.log"


# Replication factors of 1: one node. The initial rebalance delay of 0 lets a test's
# consumer group start at once instead of waiting 3 s for more members.
SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={data}
num.partitions=6
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=268435456
"""

LOG4J2_PROPERTIES = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = org.apache.kafka
logger.kafka.level = WARN
"""


def _bootstrap(settings: KafkaSettings) -> tuple[str, int]:
    first = settings.kafka_broker.split(",")[0]
    host, _, port = first.rpartition(":")
    return host, int(port)


def admin(settings: KafkaSettings) -> AdminClient:
    return AdminClient({"bootstrap.servers": settings.kafka_broker, "log_level": 0})


def answers(settings: KafkaSettings, timeout: float = 2.0) -> bool:
    """True when the cluster serves metadata with at least one broker."""
    host, port = _bootstrap(settings)
    if not port_open(host, port):
        return False
    try:
        md = admin(settings).list_topics(timeout=timeout)
    except KafkaException:
        return False
    return bool(md.brokers)


def ensure_jars(libs: Path) -> None:
    """Resolve the broker's jars with Maven into ``libs`` (``KAFKA_LIBS_DIR``) once; later
    runs find them there."""
    if libs.is_dir() and any(libs.glob("kafka_2.13-*.jar")):
        return
    if shutil.which("mvn") is None:
        raise InfraError("Maven (mvn) is needed to fetch the Kafka jars: apt-get install maven")
    if shutil.which("java") is None:
        raise InfraError("Java 17+ is needed to run Kafka: apt-get install openjdk-17-jre-headless")
    tmp = libs.with_suffix(".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    run(
        [
            "mvn",
            "-B",
            "-q",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
            "-DincludeScope=runtime",
        ],
        what="resolving Kafka jars from Maven Central",
        timeout=900,
    )
    tmp.rename(libs)  # atomic: an interrupted download never looks complete


def _java(libs: Path, *args: str, heap: str = "-Xmx256m") -> list[str]:
    return ["java", *heap.split(), "-cp", f"{libs}/*", *args]


def _write_config(port: int, infra: InfraSettings) -> Path:
    home(infra).mkdir(parents=True, exist_ok=True)
    props = home(infra) / "server.properties"
    props.write_text(
        SERVER_PROPERTIES.format(
            port=port, controller_port=infra.kafka_controller_port, data=data_dir(infra)
        )
    )
    (home(infra) / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
    return props


def _format_storage(props: Path, infra: InfraSettings) -> None:
    if (data_dir(infra) / "meta.properties").exists():
        return
    run(
        _java(
            infra.kafka_libs_dir,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            new_cluster_id(),  # not `kafka-storage random-uuid`: a JVM start for 22 characters
            "-c",
            str(props),
            "--ignore-formatted",
        ),
        what="kafka-storage format",
    )


def managed_pid(infra: InfraSettings) -> int | None:
    return read_pid(pid_file(infra))


def start(settings: KafkaSettings, infra: InfraSettings, *, timeout: float = 90.0) -> None:
    """Start the local broker (jars and storage prepared) and wait until it serves metadata."""
    _, port = _bootstrap(settings)
    ensure_jars(infra.kafka_libs_dir)
    props = _write_config(port, infra)
    _format_storage(props, infra)
    log = log_file(infra)
    cmd = _java(
        infra.kafka_libs_dir,
        f"-Dlog4j2.configurationFile={home(infra) / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={log.parent}",
        "kafka.Kafka",
        str(props),
        heap=infra.kafka_heap_opts,
    )
    pid = spawn_detached(cmd, log=log, cwd=home(infra))
    pid_file(infra).write_text(f"{pid}\n")

    def ready() -> bool:
        if read_pid(pid_file(infra)) is None:
            raise InfraError(f"Kafka exited during start-up; see its log: {log}")
        return answers(settings, timeout=1.0)

    wait_until(ready, timeout=timeout, interval=0.3, what="Kafka", log=log)


def up(settings: KafkaSettings, infra: InfraSettings, *, timeout: float = 90.0) -> ServiceStatus:
    """Make KAFKA_BROKER answer: reuse what runs there, else start the local broker."""
    host, port = _bootstrap(settings)
    if not answers(settings):
        refuse_remote(settings)
        if managed_pid(infra) is None and port_open(host, port):
            raise InfraError(f"port {port} is taken by something that does not speak Kafka")
        if managed_pid(infra) is None:
            start(settings, infra, timeout=timeout)
        else:  # our broker is still starting (a parallel `up`): wait for it
            wait_until(
                lambda: answers(settings), timeout=timeout, what="Kafka", log=log_file(infra)
            )
    ensure_topics(settings, log=log_file(infra))
    return status(settings, infra)


def refuse_remote(settings: KafkaSettings) -> None:
    """Fail when KAFKA_BROKER names another machine's broker that does not answer."""
    host, port = _bootstrap(settings)
    refuse_unreachable_remote("KAFKA_BROKER", host, port, lambda: answers(settings), "broker")


def create_topics(client: AdminClient, topics: list[NewTopic]) -> None:
    """Create ``topics``; one that exists already is left as it is (idempotent)."""
    futures = client.create_topics(topics, request_timeout=15)
    for name, fut in futures.items():
        try:
            fut.result(timeout=20)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise InfraError(f"creating topic {name}: {exc}") from None


def ensure_topics(
    settings: KafkaSettings, topics: dict[str, int] | None = None, *, log: Path | None = None
) -> None:
    """Create the topics if missing, with a week's retention; an existing topic is left as
    it is (idempotent). ``log``: the broker's log, named when the topics do not come up."""
    wanted = topics or {
        settings.order_topic: settings.order_topic_partitions,
        settings.dlq_topic: 1,
    }
    client = admin(settings)
    create_topics(
        client,
        # Replication factor -1: the cluster's own default.replication.factor (1 on the
        # single development broker, 3 on the replicated cluster), with its min.insync.replicas.
        [
            NewTopic(
                name,
                num_partitions=n,
                replication_factor=-1,
                config={"retention.ms": str(TOPIC_RETENTION_MS)},
            )
            for name, n in wanted.items()
        ],
    )
    # Metadata propagates asynchronously; wait until every topic has its leaders.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        md = client.list_topics(timeout=5)
        if all(
            name in md.topics
            and md.topics[name].error is None
            and all(p.leader >= 0 for p in md.topics[name].partitions.values())
            for name in wanted
        ):
            return
        time.sleep(0.1)
    where = f"; see {log}" if log else ""
    raise InfraError(f"topics {sorted(wanted)} have no leaders after 20 s{where}")


def stop(infra: InfraSettings, *, timeout: float = 30.0) -> bool:
    pid = managed_pid(infra)
    if pid is None:
        return False
    terminate(pid, timeout=timeout)
    pid_file(infra).unlink(missing_ok=True)
    return True


def kill(infra: InfraSettings) -> bool:
    """SIGKILL the local broker: for fault-injection tests of an abrupt broker loss."""
    pid = managed_pid(infra)
    if pid is None:
        return False
    terminate(pid, timeout=0)
    return True


def status(settings: KafkaSettings, infra: InfraSettings) -> ServiceStatus:
    host, port = _bootstrap(settings)
    running = answers(settings)
    managed = running and managed_pid(infra) is not None
    detail = f"data: {data_dir(infra)}, log: {log_file(infra)}" if managed else ""
    return ServiceStatus("kafka", running, managed, f"{host}:{port}", detail)
