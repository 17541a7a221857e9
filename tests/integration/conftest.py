"""Fixtures that tests in several integration folders share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.simulated_third_party.launcher import ThirdParty


@pytest.fixture(scope="module")
def third_party_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThirdParty]:
    """One simulated third party (a real `pos third-party` process) per test module."""
    server = ThirdParty(tmp_path_factory.mktemp("third-party")).start()
    yield server
    server.stop()


@pytest.fixture
def tp(third_party_server: ThirdParty) -> ThirdParty:
    """The module's third party, its faults, counters and receipts reset for this test."""
    third_party_server.reset()
    return third_party_server
