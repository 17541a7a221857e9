"""A closed-loop HTTP load generator in Python, for when `wrk` is not installed.

Run as its own process (`python -m bench.http_load ...`) so it never shares a CPU core's
event loop with the server it measures. Each client keeps one request in flight;
``keys`` > 0 cycles over that many fixed Idempotency-Keys (replays), 0 makes every key new.
Prints one JSON line: rate, p50_ms, p99_ms, errors, requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import aiohttp


async def _load(
    url: str,
    body: Any,
    authorization: str,
    clients: int,
    seconds: float,
    keys: int,
    prefix: str,
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0

    async def client(n: int, deadline: float) -> None:
        nonlocal errors
        async with aiohttp.ClientSession() as session:
            i = 0
            while time.perf_counter() < deadline:
                i += 1
                key = f"{prefix}-{i % keys}" if keys else f"{prefix}-{n}-{i}"
                started = time.perf_counter()
                headers = {"Idempotency-Key": key, "Authorization": authorization}
                async with session.post(url, json=body, headers=headers) as r:
                    await r.read()
                    errors += r.status >= 300
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client(n, started + seconds) for n in range(clients)))
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "rate": len(latencies) / elapsed,
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
        "errors": errors,
        "requests": len(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("body", help="the JSON body")
    parser.add_argument("authorization", help="the Authorization header (Bearer <device key>)")
    parser.add_argument("clients", type=int)
    parser.add_argument("seconds", type=float)
    parser.add_argument("keys", type=int)
    parser.add_argument("prefix")
    a = parser.parse_args()
    result = asyncio.run(
        _load(a.url, json.loads(a.body), a.authorization, a.clients, a.seconds, a.keys, a.prefix)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
