"""A chaos stack's settings, built once in the chaos process, are what its services parse
from the variables they are started with."""

from __future__ import annotations

from pathlib import Path

import pytest

from pos.config import Settings
from pos.ops.faults.replicated_stack import PAIR_OFFSET, ReplicatedStack
from pos.ops.faults.scratch import ScratchStack, overridden


def _parsed_under(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_the_scratch_stack_settings_are_what_its_services_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = ScratchStack.allocate(tmp_path / "chaos", Settings())
    settings = stack.settings
    assert settings.infra.pos_state_dir == stack.state_dir
    assert settings.db.database_url.endswith(f"@localhost:{stack.postgres_port}/posdb")
    assert settings.kafka.kafka_broker == f"localhost:{stack.kafka_port}"
    assert settings.api.api_port == stack.api_port
    assert settings.third_party.third_party_url == stack.third_party_url
    assert _parsed_under(stack.environment(), monkeypatch) == settings


def test_the_replicated_stack_settings_are_what_its_services_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = ReplicatedStack.allocate(tmp_path / "chaos", Settings())
    settings = stack.settings
    assert settings.infra.kafka_cluster_port_base == stack.port_base
    assert settings.infra.postgres_pair_port_base == stack.port_base + PAIR_OFFSET
    assert settings.kafka.kafka_broker == stack.cluster().bootstrap
    assert settings.db.database_url == stack.pair().database_url()
    assert _parsed_under(stack.environment(), monkeypatch) == settings


def test_the_stack_leaves_the_run_settings_and_the_environment_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POS_STATE_DIR", raising=False)
    base = Settings()
    stack = ScratchStack.allocate(tmp_path / "chaos", base)
    assert stack.settings.infra.pos_state_dir != base.infra.pos_state_dir
    assert base == Settings()


def test_a_misspelt_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="ordr_topic"):
        overridden(Settings(), {"kafka": {"ordr_topic": "x"}})
