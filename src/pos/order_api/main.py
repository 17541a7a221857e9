"""`pos api`: check the database, then serve the Order API with uvicorn.

The database is checked before uvicorn starts so that an unreachable or unmigrated
database ends the command with one clear line and exit 4 (see ``pos.exits``), not a
traceback from every worker.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from types import FrameType

import uvicorn
from fastapi import FastAPI

from pos import eventloop, tracing
from pos.config import ApiSettings, DatabaseSettings, Settings
from pos.db.pool import check_migrated, create_pool
from pos.logging import configure, get_logger
from pos.order_api.app import create_app
from pos.order_api.http_protocol import ProblemHttpToolsProtocol

SERVICE = "order-api"


async def _check_database(settings: DatabaseSettings) -> None:
    pool = await create_pool(settings, min_size=1, max_size=1, application_name="pos-api-check")
    try:
        await check_migrated(pool)
    finally:
        await pool.close()


#: The settings :func:`run` parsed, for a worker in the same process (one worker).
_parsed: Settings | None = None


def app_factory() -> FastAPI:
    """What each uvicorn worker imports: logging and traces are per process, so they are
    set up here. A worker in a process of its own parses the settings once, at its start;
    a worker in the CLI's process takes what the command parsed."""
    settings = _parsed or Settings()
    configure(SERVICE, settings.log)
    tracing.setup("api", settings.trace)
    return create_app(api=settings.api, db=settings.db, kafka=settings.kafka, auth=settings.auth)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _exit_zero_on_stop() -> None:
    """A requested stop is a success: exit 0 once uvicorn has shut down gracefully.

    uvicorn drains requests and runs the lifespan shutdown on SIGTERM/SIGINT, then restores
    the handlers it found and raises the signal again so the process "dies of it" (exit
    -15). The handler installed here is the one it finds and re-raises into.
    """
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop)


@contextlib.contextmanager
def _shared_metrics(workers: int, settings: ApiSettings) -> Iterator[None]:
    """With several workers, a metrics folder they all write to (see ApiMetrics.exposed).

    Set in the environment, which the workers inherit, because prometheus_client must see
    it before the first metric is created in each worker.
    """
    if workers == 1 or settings.prometheus_multiproc_dir is not None:
        yield
        return
    folder = tempfile.mkdtemp(prefix="pos-api-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _serve(host: str, port: int, workers: int) -> None:
    uvicorn.run(
        "pos.order_api.main:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop=eventloop.UVICORN_LOOP,
        http=ProblemHttpToolsProtocol,  # httptools, with parser errors as problems
        # Access lines would double the log volume of the hot path; the request metrics
        # and the intake's own log lines (with the request id) cover it.
        access_log=False,
        log_config=None,
        server_header=False,
    )


def run(args: argparse.Namespace) -> int:
    global _parsed  # handed to app_factory, which uvicorn calls without arguments
    settings: Settings = args.settings
    _parsed = settings
    configure(SERVICE, settings.log)
    host = args.host or settings.api.api_host
    port = args.port or settings.api.api_port
    workers = args.workers or settings.api.api_workers
    eventloop.run(_check_database(settings.db))  # DatabaseNotReadyError: exit 4
    get_logger(__name__).info("starting", host=host, port=port, workers=workers)
    _exit_zero_on_stop()
    with _shared_metrics(workers, settings.api):
        _serve(host, port, workers)
    return 0
