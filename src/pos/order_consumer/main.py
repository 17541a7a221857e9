"""`pos consumer`: run the Order Consumer until SIGTERM/SIGINT, then leave cleanly (exit 0)."""

from __future__ import annotations

import argparse
import asyncio
import signal

from pos import eventloop, tracing
from pos.config import Settings
from pos.logging import configure
from pos.order_consumer.runner import consume


def run(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    configure("consumer", settings.log)
    tracing.setup("consumer", settings.trace)
    eventloop.run(_main(settings))  # DatabaseNotReadyError: one line and exit 4 at the CLI boundary
    return 0


async def _main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await consume(stop, settings.consumer, settings.third_party, settings.kafka, settings.db)
