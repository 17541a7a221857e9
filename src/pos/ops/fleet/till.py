"""The fleet on the wire: every till runs its script against the Order API over HTTP.

aiohttp rather than httpx: a fleet of a hundred tills keeping a few hundred requests in
flight spends most of its CPU in the client, and aiohttp needs several times less per
request, which leaves the 2 shared cores to the system under test.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
import orjson

from pos.ops.fleet.plan import Malformed, OfflineSpell, Sale, TillScript
from pos.ops.fleet.retry import TillRetryPolicy, Verdict, classify, parse_retry_after
from pos.ops.fleet.stats import Acknowledgements, FleetStats
from pos.ops.ledger import AckRecord, body_hash, scope_of

JSON = {"Content-Type": "application/json"}


class Pacer:
    """Spaces new sales evenly across the fleet at ``rate`` per second (0 = no limit).

    A till that falls behind (its API was down) does not earn a burst of credit: only
    retries, which are not paced, catch up, as they would in a shop.
    """

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self._interval:
            return
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass(frozen=True)
class ApiAnswer:
    status: int | None  # None: no answer (timeout or connection error)
    replayed: bool = False
    order_id: str | None = None
    retry_after: float | None = None
    timed_out: bool = False


class Fleet:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_url: str,
        *,
        policy: TillRetryPolicy,
        concurrency: int,
        pacer: Pacer,
        acks: Acknowledgements,
        stats: FleetStats,
        credentials: Mapping[tuple[str, str], str],
        seed: int = 0,
    ) -> None:
        """``credentials``: each till's device key by (store, device)."""
        self._session = session
        self._credentials = credentials
        self._url = api_url.rstrip("/") + "/orders"
        self._policy = policy
        self._slots = asyncio.Semaphore(concurrency)
        self._pacer = pacer
        self._acks = acks
        self._stats = stats
        self._rng = random.Random(seed)

    async def run(self, scripts: list[TillScript]) -> None:
        await asyncio.gather(*(self._till(script) for script in scripts))

    async def _till(self, script: TillScript) -> None:
        key = self._credentials[script.store_id, script.device_id]
        headers = {**JSON, "Authorization": f"Bearer {key}"}
        scope = scope_of(script.store_id, script.device_id)
        for step in script.steps:
            if isinstance(step, Sale):
                await self._pacer.wait()
                await self._sale(step, scope, headers)
            elif isinstance(step, OfflineSpell):
                await self._offline(step, scope, headers)
            else:
                await self._malformed(step, headers)

    async def _offline(self, spell: OfflineSpell, scope: str, headers: Mapping[str, str]) -> None:
        """Ring sales up while the network is down, then flush the queue all at once."""
        went_offline = time.monotonic()
        for _ in spell.sales:
            await self._pacer.wait()
        await asyncio.sleep(max(0.0, spell.offline_for - (time.monotonic() - went_offline)))
        self._stats.offline_spells += 1
        self._stats.offline_sales += len(spell.sales)
        await asyncio.gather(*(self._sale(sale, scope, headers) for sale in spell.sales))

    async def _sale(self, sale: Sale, scope: str, headers: Mapping[str, str]) -> None:
        self._stats.sales_sent += 1
        if sale.double_tap:
            # The till's button pressed twice: two identical requests race in the API.
            self._stats.double_taps += 1
            ids = list(
                await asyncio.gather(
                    self._until_answered(sale, headers), self._until_answered(sale, headers)
                )
            )
        else:
            ids = [await self._until_answered(sale, headers)]
        answered = {i for i in ids if isinstance(i, str)}  # a double tap must yield one id
        for order_id in answered:
            self._acks.record(
                AckRecord(sale.key, order_id, body_hash(sale.body), scope, sale.sale_id)
            )
        if answered:
            return
        if Verdict.REJECTED in ids:
            self._stats.refused_sales += 1
        else:
            self._stats.gave_up += 1

    async def _until_answered(self, sale: Sale, headers: Mapping[str, str]) -> str | Verdict | None:
        """Send until acknowledged (the order id), refused (REJECTED) or out of retries."""
        started = time.monotonic()
        payload = sale.payload
        attempt = 0
        while True:
            if attempt:
                self._stats.retries += 1
            answer = await self._post(sale.key, payload, headers)
            attempt += 1
            verdict = classify(answer.status, replayed=answer.replayed)
            self._stats.count(verdict, timed_out=answer.timed_out)
            if verdict in (Verdict.CREATED, Verdict.REPLAYED) and answer.order_id:
                return answer.order_id
            if verdict is Verdict.REJECTED:
                return verdict
            if self._policy.exhausted(attempt, time.monotonic() - started):
                return None
            await asyncio.sleep(self._policy.delay(attempt, self._rng, answer.retry_after))

    async def _malformed(self, bad: Malformed, headers: Mapping[str, str]) -> None:
        """Sent until it gets an answer; a 4xx is the expected one and is never retried."""
        self._stats.malformed_sent += 1
        started = time.monotonic()
        attempt = 0
        while True:
            answer = await self._post(bad.key, bad.payload, headers)
            self._stats.requests += 1
            attempt += 1
            if answer.status is not None and 400 <= answer.status < 500:
                self._stats.rejected_malformed += 1
                return
            if answer.status is not None and 200 <= answer.status < 300:
                self._stats.malformed_accepted += 1
                return
            if self._policy.exhausted(attempt, time.monotonic() - started):
                return
            await asyncio.sleep(self._policy.delay(attempt, self._rng, answer.retry_after))

    async def _post(self, key: str | None, payload: bytes, till: Mapping[str, str]) -> ApiAnswer:
        headers = dict(till) if key is None else {**till, "Idempotency-Key": key}
        async with self._slots:
            try:
                async with self._session.post(
                    self._url,
                    data=payload,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self._policy.timeout),
                ) as response:
                    body = await response.read()
                    status = response.status
                    replayed = response.headers.get("Idempotent-Replayed", "").lower() == "true"
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
            except TimeoutError:
                return ApiAnswer(None, timed_out=True)
            except aiohttp.ClientError:
                return ApiAnswer(None)
        order_id = None
        if 200 <= status < 300:
            try:
                order_id = str(orjson.loads(body)["id"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                return ApiAnswer(502)  # an unreadable acknowledgement is no acknowledgement
        return ApiAnswer(status, replayed, order_id, retry_after)
