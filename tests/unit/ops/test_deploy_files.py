"""The deployment files agree with the code: no Docker engine here, so they are parsed.

docker-compose.yml, the Dockerfile, .dockerignore, the Prometheus configuration and the
Grafana provisioning and dashboard are checked against what the code really has: `pos`
subcommands (the parser itself), settings names and defaults (the settings classes),
metric names (the metric declarations in the source).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from pos.cli import build_parser
from pos.config import (
    PROJECT_ROOT,
    SETTINGS_CLASSES,
    ApiSettings,
    ConsumerSettings,
    DatabaseSettings,
    KafkaSettings,
    PublisherSettings,
    ThirdPartySettings,
    TraceSettings,
)
from pos.ops.configdoc import settings_docs

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
PROMETHEUS_FILE = PROJECT_ROOT / "monitoring" / "prometheus" / "prometheus.yml"
GRAFANA = PROJECT_ROOT / "monitoring" / "grafana"
DASHBOARD_FILE = GRAFANA / "dashboards" / "pos-orders.json"

POS_SERVICES = {"migrate", "topics", "third-party", "api", "publisher", "consumer"}
ONE_SHOTS = {"migrate", "topics"}
SETTINGS_NAMES = {doc.env for doc in settings_docs()}


def _yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
    return loaded


def _port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


def _published(service: dict[str, Any]) -> dict[int, int]:
    """container port -> host port, from "host:container" entries."""
    pairs = (str(p).split(":") for p in service.get("ports", []))
    return {int(container): int(host) for host, container in pairs}


def _dependencies(service: dict[str, Any]) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in service.get("depends_on", {}).items()}


# --- docker-compose.yml ----------------------------------------------------------------------


def test_compose_runs_the_whole_stack(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {
        "postgres",
        "kafka",
        "prometheus",
        "grafana",
        "jaeger",
        *POS_SERVICES,
    }


def test_postgres_and_kafka_keep_their_host_ports_and_images(
    services: dict[str, dict[str, Any]],
) -> None:
    assert services["postgres"]["image"] == "postgres:15"
    assert _published(services["postgres"]) == {5432: 5433}
    assert services["kafka"]["image"] == "apache/kafka:4.3.1"
    assert _published(services["kafka"]) == {9092: 9092}
    # The host keeps reaching the broker where the defaults say (make run beside compose).
    host = DatabaseSettings.model_fields["database_url"].default
    assert urlsplit(host).port == 5433
    assert KafkaSettings.model_fields["kafka_broker"].default == "localhost:9092"
    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert "PLAINTEXT://localhost:9092" in advertised.split(",")


def test_pos_services_share_one_image_and_run_real_pos_commands(
    services: dict[str, dict[str, Any]],
) -> None:
    parser = build_parser()
    for name in POS_SERVICES:
        service = services[name]
        assert service["image"] == "pos-orders:local", name
        assert service["build"] == ".", name
        args = parser.parse_args(service["command"])  # SystemExit if not a pos command
        assert callable(args.handler), name
    assert services["api"]["command"] == ["api"]
    assert services["publisher"]["command"] == ["publisher"]
    assert services["consumer"]["command"] == ["consumer"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["third-party"]["command"][0] == "third-party"


def test_every_environment_name_is_a_setting(services: dict[str, dict[str, Any]]) -> None:
    for name in POS_SERVICES:
        unknown = set(services[name]["environment"]) - SETTINGS_NAMES
        assert not unknown, f"{name} sets variables no settings class reads: {unknown}"


def test_every_environment_is_valid_configuration(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The values parse with the settings classes (ports are ints, the URL is postgresql...)."""
    for name in POS_SERVICES:
        env = services[name]["environment"]
        for key, value in env.items():
            # Compose refuses YAML booleans in environment maps; strings and numbers only.
            assert type(value) in {str, int}, (name, key)
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, str(value))
            for cls in SETTINGS_CLASSES:
                cls(_env_file=None)  # type: ignore[call-arg]


def test_database_url_is_the_compose_postgres(services: dict[str, dict[str, Any]]) -> None:
    postgres_env = services["postgres"]["environment"]
    for name in POS_SERVICES:
        url = urlsplit(services[name]["environment"]["DATABASE_URL"])
        assert url.hostname == "postgres"
        assert url.port in _published(services["postgres"])  # the container's port
        assert (url.username, url.password) == (
            postgres_env["POSTGRES_USER"],
            postgres_env["POSTGRES_PASSWORD"],
        )
        assert url.path.lstrip("/") == postgres_env["POSTGRES_DB"]


def _listeners(value: str) -> dict[str, str]:
    """ "NAME://host:port,..." -> {NAME: "host:port"}."""
    return dict(item.split("://", 1) for item in value.split(","))


def test_kafka_broker_is_the_internal_listener(services: dict[str, dict[str, Any]]) -> None:
    kafka_env = services["kafka"]["environment"]
    advertised = _listeners(kafka_env["KAFKA_ADVERTISED_LISTENERS"])
    bound = _listeners(kafka_env["KAFKA_LISTENERS"])
    protocols = dict(
        p.split(":") for p in kafka_env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    for name in POS_SERVICES:
        broker = services[name]["environment"]["KAFKA_BROKER"]
        (listener,) = [n for n, address in advertised.items() if address == broker]
        assert broker.startswith("kafka:"), "by compose service name"
        assert bound[listener].rsplit(":", 1)[1] == broker.rsplit(":", 1)[1]
        assert protocols[listener] == "PLAINTEXT"
    # The controller listener stays what KRaft needs.
    assert kafka_env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"


def test_service_ports_are_the_settings_defaults(services: dict[str, dict[str, Any]]) -> None:
    api_port = ApiSettings.model_fields["api_port"].default
    publisher_port = PublisherSettings.model_fields["publisher_metrics_port"].default
    consumer_port = ConsumerSettings.model_fields["consumer_metrics_port"].default
    third_party_port = _port_of(ThirdPartySettings.model_fields["third_party_url"].default)
    assert _published(services["api"]) == {api_port: api_port}
    assert services["api"]["environment"]["API_PORT"] == api_port
    assert services["api"]["environment"]["API_HOST"] == "0.0.0.0"
    assert _published(services["publisher"]) == {publisher_port: publisher_port}
    assert services["publisher"]["environment"]["PUBLISHER_METRICS_PORT"] == publisher_port
    assert services["publisher"]["environment"]["PUBLISHER_METRICS_HOST"] == "0.0.0.0"
    assert _published(services["consumer"]) == {consumer_port: consumer_port}
    assert services["consumer"]["environment"]["CONSUMER_METRICS_PORT"] == consumer_port
    command = services["third-party"]["command"]
    assert command[command.index("--port") + 1] == str(third_party_port)
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert _published(services["third-party"]) == {third_party_port: third_party_port}


def test_the_consumer_reaches_the_third_party_service(services: dict[str, dict[str, Any]]) -> None:
    url = urlsplit(services["consumer"]["environment"]["THIRD_PARTY_URL"])
    assert url.hostname == "third-party"
    assert url.hostname in services
    assert url.port in _published(services["third-party"])


def test_jaeger_takes_otlp_over_http_and_serves_its_ui(
    services: dict[str, dict[str, Any]],
) -> None:
    jaeger = services["jaeger"]
    assert jaeger["image"].startswith("jaegertracing/all-in-one:")
    assert _published(jaeger) == {4318: 4318, 16686: 16686}
    # Traces are best effort: no service waits for the collector to start.
    for name, service in services.items():
        assert "jaeger" not in _dependencies(service), name


def test_the_three_services_send_their_traces_to_jaeger(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("api", "publisher", "consumer"):
        env = services[name]["environment"]
        url = urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert (url.scheme, url.hostname) == ("http", "jaeger"), name
        assert url.port in _published(services["jaeger"]), name
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, str(value))
            assert TraceSettings(_env_file=None).exporter == "otlp", name  # type: ignore[call-arg]
    for name in POS_SERVICES - {"api", "publisher", "consumer"}:
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in services[name]["environment"], name


def test_startup_order(services: dict[str, dict[str, Any]]) -> None:
    assert _dependencies(services["migrate"]) == {"postgres": "service_healthy"}
    assert _dependencies(services["topics"]) == {
        "migrate": "service_completed_successfully",
        "kafka": "service_healthy",
    }
    for name in ("api", "publisher", "consumer"):
        deps = _dependencies(services[name])
        assert deps["topics"] == "service_completed_successfully", name
        assert deps["kafka"] == "service_healthy", name
    assert _dependencies(services["consumer"])["third-party"] == "service_healthy"
    assert _dependencies(services["grafana"]) == {"prometheus": "service_healthy"}


def test_dependencies_have_what_their_condition_needs(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for dependency, condition in _dependencies(service).items():
            assert dependency in services, (name, dependency)
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], dependency
            if condition == "service_completed_successfully":
                assert dependency in ONE_SHOTS, dependency


def test_no_dependency_cycle(services: dict[str, dict[str, Any]]) -> None:
    started: list[str] = []
    waiting = {name: set(_dependencies(s)) for name, s in services.items()}
    while waiting:
        ready = sorted(n for n, deps in waiting.items() if deps <= set(started))
        assert ready, f"cycle among {sorted(waiting)}"
        started += ready
        for name in ready:
            del waiting[name]
    assert started.index("migrate") < started.index("topics") < started.index("api")


def test_one_shots_run_once_and_services_restart(services: dict[str, dict[str, Any]]) -> None:
    for name in POS_SERVICES:
        expected = "no" if name in ONE_SHOTS else "unless-stopped"
        assert services[name]["restart"] == expected, name


def test_healthchecks_ask_each_service_on_its_own_port(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("api", "publisher", "consumer", "third-party"):
        probe = " ".join(services[name]["healthcheck"]["test"])
        (container_port,) = _published(services[name])
        assert f"127.0.0.1:{container_port}/" in probe, name


def test_bind_mounts_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                assert (PROJECT_ROOT / source).exists(), (name, source)


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, source


# --- Prometheus and Grafana ------------------------------------------------------------------


def test_prometheus_scrapes_the_api_and_the_workers(services: dict[str, dict[str, Any]]) -> None:
    config = _yaml(PROMETHEUS_FILE)
    targets = {
        job["job_name"]: target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert set(targets) == {"api", "publisher", "consumer"}
    for job, target in targets.items():
        host, port = target.rsplit(":", 1)
        assert host == job
        assert host in services
        assert int(port) in _published(services[host])
    api_job = next(j for j in config["scrape_configs"] if j["job_name"] == "api")
    assert api_job.get("metrics_path", "/metrics") == "/metrics"
    mounted = [v for v in services["prometheus"]["volumes"] if "prometheus.yml" in v]
    assert mounted == ["./monitoring/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"]


def _mount_target(service: dict[str, Any], source: str) -> str:
    (target,) = [v.split(":")[1] for v in service["volumes"] if v.split(":")[0] == source]
    return str(target)


def test_grafana_provisions_the_datasource_and_the_dashboard(
    services: dict[str, dict[str, Any]], dashboard: dict[str, Any]
) -> None:
    grafana = services["grafana"]
    provisioning = _mount_target(grafana, "./monitoring/grafana/provisioning")
    assert provisioning == "/etc/grafana/provisioning"
    (datasource,) = _yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")[
        "datasources"
    ]
    assert datasource["type"] == "prometheus"
    assert urlsplit(datasource["url"]).hostname == "prometheus"
    assert _port_of(datasource["url"]) in _published(services["prometheus"])
    (provider,) = _yaml(GRAFANA / "provisioning" / "dashboards" / "pos.yml")["providers"]
    dashboards_dir = _mount_target(grafana, "./monitoring/grafana/dashboards")
    assert provider["options"]["path"] == dashboards_dir
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{dashboards_dir}/{DASHBOARD_FILE.name}"
    panels = dashboard["panels"]
    for panel in panels:
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"], panel["title"]


def test_dashboard_shows_what_the_issue_asks_for(dashboard: dict[str, Any]) -> None:
    titles = " | ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("intake rate", "backlog", "relay latency", "consumer lag", "outcomes"):
        assert topic in titles, topic
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"] == "pos-orders"
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]


def test_dashboard_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


_DECLARATION = re.compile(r'\b(Counter|Gauge|Histogram|Summary)\(\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"')


def exported_series() -> dict[str, str]:
    """Every series name the code's metric declarations expose, mapped to the declaration.

    prometheus_client appends ``_total`` to counters (whether or not the name has it) and
    ``_bucket``/``_sum``/``_count`` to histograms, so those are the names a query uses.
    """
    series: dict[str, str] = {}
    for path in sorted((PROJECT_ROOT / "src" / "pos").rglob("*.py")):
        for kind, name in _DECLARATION.findall(path.read_text(encoding="utf-8")):
            where = f"{kind}({name!r}) in {path.relative_to(PROJECT_ROOT)}"
            if kind == "Counter":
                base = name.removesuffix("_total")
                names = [f"{base}_total", f"{base}_created"]
            elif kind in {"Histogram", "Summary"}:
                names = [name, f"{name}_bucket", f"{name}_sum", f"{name}_count"]
            else:
                names = [name]
            series.update(dict.fromkeys(names, where))
    return series


def test_every_dashboard_metric_exists_in_the_code(dashboard: dict[str, Any]) -> None:
    exported = exported_series()
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bpos_[a-z0-9_]+", target["expr"])
    }
    assert used, "the dashboard queries no pos_ metric"
    missing = sorted(used - set(exported))
    assert not missing, f"dashboard metrics not declared in src/pos: {missing}"


def test_every_component_has_metrics_on_the_dashboard(dashboard: dict[str, Any]) -> None:
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for prefix in ("pos_api_", "pos_publisher_", "pos_consumer_"):
        assert prefix in exprs, prefix


# --- Dockerfile and .dockerignore ------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = (line.strip() for line in text.splitlines())
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.partition(" ") for line in lines if line and line[0] != "#")
    ]


def test_dockerfile_is_multi_stage_on_slim_python() -> None:
    instructions = _instructions()
    args = dict(rest.split("=", 1) for word, rest in instructions if word == "ARG" and "=" in rest)
    stages = [rest for word, rest in instructions if word == "FROM"]
    bases = [stage.split()[0].replace("${PYTHON_IMAGE}", args["PYTHON_IMAGE"]) for stage in stages]
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    assert bases.count("python:3.11-slim") == 2, "build and runtime stages"
    assert stages[-1].endswith("AS runtime")


def test_dockerfile_installs_from_the_lock_file_with_the_makefile_uv() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    (uv_version,) = re.findall(r"^UV_VERSION := (\S+)$", makefile, re.MULTILINE)
    assert f"ghcr.io/astral-sh/uv:{uv_version} " in text
    syncs = [r for w, r in _instructions() if w == "RUN" and "uv sync" in r]
    assert syncs
    for sync in syncs:
        assert "--frozen" in sync
        assert "--no-dev" in sync


def test_dockerfile_runs_pos_commands_as_a_non_root_user() -> None:
    instructions = _instructions()
    users = [rest for word, rest in instructions if word == "USER"]
    assert users
    assert users[-1] not in {"root", "0"}
    (entrypoint,) = [json.loads(rest) for word, rest in instructions if word == "ENTRYPOINT"]
    (cmd,) = [json.loads(rest) for word, rest in instructions if word == "CMD"]
    assert entrypoint == ["pos"]
    build_parser().parse_args(cmd)


def test_dockerfile_environment_and_ports_match_the_settings() -> None:
    env_lines = [rest for word, rest in _instructions() if word == "ENV"]
    names = {item.split("=", 1)[0] for line in env_lines for item in shlex.split(line)}
    runtime_only = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
    build_only = {n for n in names if n.startswith("UV_")}
    assert names - runtime_only - build_only <= SETTINGS_NAMES
    (expose,) = [rest for word, rest in _instructions() if word == "EXPOSE"]
    assert {int(p) for p in expose.split()} == {
        ApiSettings.model_fields["api_port"].default,
        _port_of(ThirdPartySettings.model_fields["third_party_url"].default),
        PublisherSettings.model_fields["publisher_metrics_port"].default,
        ConsumerSettings.model_fields["consumer_metrics_port"].default,
    }


def _dockerignored(path: str) -> bool:
    """Docker's rule: a pattern excludes what it matches and everything below it, the last
    matching line wins, ``!`` re-includes, ``**/`` matches at any depth."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for raw in (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern = line.removeprefix("!").rstrip("/")
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, pattern.removeprefix("**/")) for part in parts)
        else:
            hit = any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes)
        if hit:
            ignored = not line.startswith("!")
    return ignored


def test_dockerignore_sends_the_build_what_it_copies_and_nothing_else() -> None:
    copied = [
        source
        for word, rest in _instructions()
        if word == "COPY" and not rest.startswith("--from")
        for source in rest.split()[:-1]
    ]
    assert copied
    for source in copied:
        probe = "src/pos/config.py" if source.rstrip("/") == "src" else source
        assert not _dockerignored(probe), source
    for private in (".venv/bin/python", ".local/postgres/data", ".git/HEAD", ".env", "tests/x.py"):
        assert _dockerignored(private), private
    assert _dockerignored("src/pos/__pycache__/config.cpython-311.pyc")
