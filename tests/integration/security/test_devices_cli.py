"""``pos devices``: the key is printed once as the last word, listed by id, revocable."""

from __future__ import annotations

import uuid

import pytest

from pos.cli import main
from pos.config import DatabaseSettings
from pos.ops.devices import provision
from pos.security import keys


def test_add_list_revoke(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = f"store-{uuid.uuid4().hex[:8]}"
    assert main(["devices", "add", "--store", store, "--device", "till-1"]) == 0
    printed = capsys.readouterr().out
    key = keys.parse(printed.split()[-1])

    assert main(["devices", "list"]) == 0
    listing = capsys.readouterr().out
    assert key.key_id in listing
    assert key.secret not in listing

    assert main(["devices", "add", "--store", store, "--device", "till-1"]) == 1
    assert "already has an active key" in capsys.readouterr().err

    assert main(["devices", "revoke", store, "till-1"]) == 0
    assert key.key_id in capsys.readouterr().out
    assert main(["devices", "revoke", key.key_id]) == 1


def test_provision_issues_working_keys_once_per_device(database_url: str) -> None:
    store = f"store-{uuid.uuid4().hex[:8]}"
    db = DatabaseSettings()
    issued = provision(db, [(store, "till-1"), (store, "till-2"), (store, "till-1")])
    assert set(issued) == {(store, "till-1"), (store, "till-2")}
    again = provision(db, [(store, "till-1")])
    assert again[store, "till-1"] != issued[store, "till-1"]
