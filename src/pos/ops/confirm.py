"""Asking before a command acts on everything: the guard of `pos dlq redrive` and
`pos outbox requeue` when no ids are given.

On a terminal the person is asked; in a script (no terminal to ask on) the bulk action
needs ``--all``, so a forgotten argument in a cron line never re-sends a whole queue.
"""

from __future__ import annotations

import sys

from pos.exits import CommandError, ExitCode


def bulk_allowed(*, given: bool, everything: bool, question: str, usage: str) -> bool:
    """Whether to act on every item: False when ids were ``given`` (act on those only).

    Raises :class:`CommandError` when ``--all`` contradicts the ids, when a script asks
    for everything without ``--all``, or when the person answers no.
    """
    if given:
        if everything:
            raise CommandError(f"give ids or --all, not both ({usage})", ExitCode.USAGE)
        return False
    if everything:
        return True
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CommandError(
            f"no ids given: pass --all to act on every one, or list ids ({usage})",
            ExitCode.USAGE,
        )
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in {"y", "yes"}:
        raise CommandError("nothing changed (not confirmed)", ExitCode.FAILURE)
    return True
