"""`pos publisher`: run the outbox relay until SIGTERM or SIGINT, then stop cleanly (exit 0)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal

from pos import eventloop, tracing
from pos.config import Settings
from pos.logging import configure
from pos.order_publisher.app import serve


def run(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    configure("publisher", settings.log)
    tracing.setup("publisher", settings.trace)
    _tune_garbage_collector()
    return eventloop.run(_main(settings))


def _tune_garbage_collector() -> None:
    """Make the cyclic garbage collector stay out of the relay's way.

    Every batch creates thousands of short-lived, acyclic objects (rows, header lists,
    delivery callbacks) that reference counting frees. With the default thresholds the
    collector still walks them, and everything imported, several times per batch: about a
    quarter of the relay's CPU during a drain. Freezing what exists after start-up hides it
    from the collector; a higher first threshold makes it run far less often.
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


async def _main(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # DatabaseNotReadyError ends the command at the CLI boundary: one line, exit 4.
    await serve(stop, db=settings.db, kafka=settings.kafka, settings=settings.publisher)
    return 0
