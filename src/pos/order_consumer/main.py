"""`pos consumer`: run the Order Consumer until SIGTERM/SIGINT, then leave cleanly (exit 0)."""

from __future__ import annotations

import argparse
import asyncio
import signal

import uvloop

from pos import tracing
from pos.logging import configure
from pos.order_consumer.runner import consume


def run(args: argparse.Namespace) -> int:
    configure("consumer")
    tracing.setup("consumer")
    uvloop.run(_main())  # DatabaseNotReadyError: one line and exit 4 at the CLI boundary
    return 0


async def _main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await consume(stop)
