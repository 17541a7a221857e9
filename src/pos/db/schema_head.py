"""The schema revision the code expects, read from the migration files without Alembic.

Every service checks at start that its database is at this revision (see
``pos.db.pool.check_migrated``). Importing Alembic and SQLAlchemy to ask it cost 0.9
CPU-seconds (``python -X importtime``), more than half of a consumer's start to ready, and
a service restarted after a crash pays its start again. Each migration file states its
``revision`` and ``down_revision`` as plain assignments, so the head is the one revision no
file names as its parent; a unit test holds this answer to Alembic's own.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

VERSIONS_DIR = Path(__file__).resolve().parent / "migrations" / "versions"


class SchemaHeadError(RuntimeError):
    """The migration files do not form one line of revisions."""


@functools.cache
def head_revision(versions: Path = VERSIONS_DIR) -> str | None:
    """The newest revision (None when there is no migration at all)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        fields = _assignments(path)
        if "revision" not in fields:
            raise SchemaHeadError(f"{path.name} names no revision")
        revision = fields["revision"]
        if not isinstance(revision, str):
            raise SchemaHeadError(f"{path.name}: revision is not a string")
        revisions.add(revision)
        parents.update(_names(fields.get("down_revision"), path))
    heads = revisions - parents
    if len(heads) > 1:
        raise SchemaHeadError(f"several heads: {', '.join(sorted(heads))}; merge them")
    if revisions and not heads:
        raise SchemaHeadError("the revisions form a cycle")
    return next(iter(heads), None)


def _assignments(path: Path) -> dict[str, object]:
    """The module-level ``name = constant`` (or ``name: T = constant``) of one file."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            target, value = node.target.id, node.value
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            target, value = node.targets[0].id, node.value
        else:
            continue
        if target in ("revision", "down_revision"):
            found[target] = ast.literal_eval(value)
    return found


def _names(parent: object, path: Path) -> set[str]:
    """A ``down_revision`` as a set: None, one revision, or a merge's several."""
    if parent is None:
        return set()
    if isinstance(parent, str):
        return {parent}
    if isinstance(parent, tuple | list) and all(isinstance(p, str) for p in parent):
        return set(parent)
    raise SchemaHeadError(f"{path.name}: down_revision is neither a revision nor a list of them")
