"""The head revision the services check for, read without Alembic, is Alembic's."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from pos.db import migrate, schema_head


def test_the_head_is_the_one_alembic_finds_in_the_shipped_migrations() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("postgresql://unused/x"))
    assert schema_head.head_revision() == script.get_current_head()
    assert schema_head.head_revision() is not None


def _version(folder: Path, name: str, revision: str, parent: str) -> None:
    (folder / f"{name}.py").write_text(
        f'"""{name}"""\n\nrevision: str = "{revision}"\ndown_revision = {parent}\n'
    )


def test_a_line_of_revisions_has_its_newest_as_head(tmp_path: Path) -> None:
    _version(tmp_path, "b", "0002", '"0001"')
    _version(tmp_path, "a", "0001", "None")
    _version(tmp_path, "c", "0003", '("0002",)')
    assert schema_head.head_revision(tmp_path) == "0003"
    assert schema_head.head_revision(tmp_path / "none") is None  # no migrations yet


def test_two_heads_or_a_cycle_are_refused(tmp_path: Path) -> None:
    (tmp_path / "forked").mkdir()
    _version(tmp_path / "forked", "a", "0001", "None")
    _version(tmp_path / "forked", "b", "0002", '"0001"')
    _version(tmp_path / "forked", "c", "0003", '"0001"')
    with pytest.raises(schema_head.SchemaHeadError, match="several heads: 0002, 0003"):
        schema_head.head_revision(tmp_path / "forked")
    (tmp_path / "cycle").mkdir()
    _version(tmp_path / "cycle", "a", "0001", '"0002"')
    _version(tmp_path / "cycle", "b", "0002", '"0001"')
    with pytest.raises(schema_head.SchemaHeadError, match="cycle"):
        schema_head.head_revision(tmp_path / "cycle")
