"""The one shape of a service's Prometheus metrics: an object that owns its registry.

Each service defines its metrics as attributes of a subclass of :class:`ServiceMetrics`;
its wiring creates ONE instance per service instance and passes it to whatever counts.
Never the process-global registry: several instances in one process (tests, benchmarks)
then neither collide ("duplicated timeseries") nor mix their figures, and a test reads
the figures of the instance it runs. The API's multi-worker exposition, which adds up
every worker's files, is the API's own concern (``order_api.metrics``).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, start_http_server


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()

    def serve(self, port: int, host: str = "127.0.0.1") -> Callable[[], None]:
        """Expose /metrics on ``port`` (0 = off) from a daemon thread; returns its stopper."""
        if not port:
            return lambda: None
        server, _thread = start_http_server(port, addr=host, registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()

        return stop
