"""`pos status`: one screen (or one JSON document) with the state of the whole pipeline."""

from pos.ops.status.command import run

__all__ = ["run"]
