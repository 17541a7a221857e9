"""The README's configuration table is generated from the settings classes and is current."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings

from pos.config import PROJECT_ROOT, SETTINGS_CLASSES
from pos.ops import configdoc


def test_readme_table_matches_the_settings_classes() -> None:
    readme = configdoc.README.read_text(encoding="utf-8")
    assert configdoc.generated_readme(readme) == readme, (
        "README.md's configuration table is stale: run `python -m pos.ops.configdoc --write`"
    )


def test_check_mode_agrees() -> None:
    assert configdoc.main(["--check"]) == 0


def test_every_setting_is_documented_once() -> None:
    docs = configdoc.settings_docs()
    assert len(docs) == sum(len(cls.model_fields) for cls in SETTINGS_CLASSES)
    missing = [d.env for d in docs if not d.meaning]
    assert not missing, f"settings without a Field description: {missing}"
    names = [d.env for d in docs]
    assert len(names) == len(set(names)), "an environment variable is read by two settings"


def test_contract_variables_and_defaults_are_in_the_table() -> None:
    table = configdoc.render_table(configdoc.settings_docs())
    for row in (
        "| `DATABASE_URL` | `postgresql://postgres:postgres@localhost:5433/posdb` |",
        "| `KAFKA_BROKER` | `localhost:9092` |",
        "| `THIRD_PARTY_URL` | `http://127.0.0.1:8081` |",
        "| `API_HOST` | `127.0.0.1` |",
        "| `API_PORT` | `8000` |",
        "| `ORDER_TOPIC` | `order.created` |",
        "| `DLQ_TOPIC` | `order.created.dlq` |",
    ):
        assert row in table


def test_the_part_is_named_on_the_first_row_of_its_group_only() -> None:
    lines = configdoc.render_table(configdoc.settings_docs()).splitlines()[2:]
    parts = [line.split("|")[1].strip() for line in lines]
    named = [p for p in parts if p]
    assert named == [
        "database",
        "kafka",
        "api",
        "auth",
        "publisher",
        "consumer",
        "third party",
        "infra",
        "log",
        "trace",
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (True, "`true`"),
        (False, "`false`"),
        (8000, "`8000`"),
        (0.2, "`0.2`"),
        ("", '`""`'),
        (PROJECT_ROOT / ".local" / "x.jsonl", "`.local/x.jsonl`"),
        (Path("/var/tmp/x"), "`/var/tmp/x`"),
        ({"linger.ms": 5}, '`{"linger.ms": 5}`'),
    ],
)
def test_defaults_are_rendered_as_written_in_env(value: object, shown: str) -> None:
    assert configdoc.render_default(value) == shown


def test_splice_replaces_only_the_marked_section() -> None:
    readme = f"# T\nbefore\n{configdoc.START}\nold | table\n{configdoc.END}\nafter\n"
    assert configdoc.splice(readme, "NEW") == (
        f"# T\nbefore\n{configdoc.START}\nNEW\n{configdoc.END}\nafter\n"
    )


def test_splice_without_markers_is_an_error() -> None:
    with pytest.raises(ValueError, match="config:start"):
        configdoc.splice("# no markers\n", "NEW")


class OddSettings(BaseSettings):
    odd_value: str = Field("a|b", description="Either a | b.")
    prefixed: int = Field(1, validation_alias="OTHER_NAME", description="Read as OTHER_NAME.")


def test_pipes_aliases_and_parts_of_any_settings_class() -> None:
    docs = configdoc.settings_docs([OddSettings])
    assert [d.env for d in docs] == ["ODD_VALUE", "OTHER_NAME"]
    assert docs[0].part == "odd"
    row = configdoc.render_table(docs).splitlines()[2]
    # Escaped pipes keep the row at four cells.
    assert row.count("|") - row.count("\\|") == 5
    assert "Either a \\| b." in row
