"""A live ``pos api`` with a registered device, shared by the fuzz tests of this package."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from pos.config import KafkaSettings
from pos.scratch.processes import ServiceProcess, free_port
from pos.security import keys, registry
from tests.integration.security.fuzzing import TALLY


@dataclass(frozen=True)
class LiveApi:
    base_url: str
    key: keys.ApiKey
    store_id: str
    device_id: str
    process: ServiceProcess

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def register_device(database_url: str, store_id: str, device_id: str) -> keys.ApiKey:
    async def add() -> keys.ApiKey:
        conn = await asyncpg.connect(database_url)
        try:
            return await registry.add(conn, store_id, device_id)
        finally:
            await conn.close()

    return asyncio.run(add())


@pytest.fixture(scope="session")
def live_api(
    database_url: str, kafka_settings: KafkaSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApi]:
    store_id, device_id = f"fuzz-{uuid.uuid4().hex[:8]}", "till-1"
    key = register_device(database_url, store_id, device_id)
    port = free_port()
    log_dir: Path = tmp_path_factory.mktemp("fuzz-api")
    # The fuzzers send hundreds of requests from one device: the rate limit is tested
    # on its own, here it would only turn most cases into 429s.
    # A small body limit lets the random-bytes fuzzer reach the 413 as well.
    env = {
        "API_RATE_LIMIT_PER_SECOND": "100000",
        "API_RATE_LIMIT_BURST": "100000",
        "MAX_BODY_BYTES": "4096",
    }
    with ServiceProcess("api", "--port", str(port), env=env, log_dir=log_dir, name="api") as api:
        base_url = f"http://127.0.0.1:{port}"
        api.wait_http(base_url + "/healthz", timeout=60)
        yield LiveApi(base_url, key, store_id, device_id, api)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY.cases:
        terminalreporter.section("fuzzing")
        for line in TALLY.summary():
            terminalreporter.write_line(line)
