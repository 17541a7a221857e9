"""`pos consumer`: run the Order Consumer until SIGTERM/SIGINT, then leave cleanly (exit 0)."""

from __future__ import annotations

import argparse
import asyncio
import signal

import uvloop

from pos.db.pool import DatabaseNotReadyError
from pos.logging import configure, get_logger
from pos.order_consumer.runner import consume


def run(args: argparse.Namespace) -> int:
    configure("consumer")
    try:
        uvloop.run(_main())
    except DatabaseNotReadyError as exc:
        get_logger(__name__).error("cannot start", error=str(exc))
        return 1
    return 0


async def _main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await consume(stop)
