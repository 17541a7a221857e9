"""`pos third-party`: the simulated external system on uvicorn (uvloop + httptools)."""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

import uvicorn

from pos import eventloop
from pos.config import Settings
from pos.logging import configure
from pos.simulated_third_party.app import ThirdPartyApp
from pos.simulated_third_party.counters import Counters, counters_path
from pos.simulated_third_party.faults import Faults
from pos.simulated_third_party.store import ReceiptStore


def run(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    configure("third-party", settings.log)
    tp = settings.third_party
    url = urlsplit(tp.third_party_url)
    app = ThirdPartyApp(
        ReceiptStore(tp.tp_store_path),
        Counters(counters_path(tp.tp_store_path)),
        Faults.from_settings(tp),
    )
    config = uvicorn.Config(
        app,
        host=args.host or url.hostname or "127.0.0.1",
        port=args.port or url.port or 8081,
        loop=eventloop.UVICORN_LOOP,
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        backlog=4096,
        # Keep idle keep-alive connections well past uvicorn's 5 s default: a client that
        # sends on a connection the server is just closing sees a (retried) failure.
        timeout_keep_alive=75,
        # A simulated timeout hangs for tp_hang_seconds; shutdown should not wait for it.
        timeout_graceful_shutdown=1,
    )
    uvicorn.Server(config).run()
    return 0
