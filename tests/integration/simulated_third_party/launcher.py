"""The simulated third party as a real `pos third-party` subprocess, for any test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from pos.scratch.processes import ServiceProcess, free_port


class ThirdParty:
    def __init__(self, workdir: Path, *, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store_path = workdir / "receipts.jsonl"
        self.process = ServiceProcess(
            "third-party",
            "--port",
            str(self.port),
            env={"TP_STORE_PATH": str(self.store_path), **(env or {})},
            log_dir=workdir,
            name=f"third-party-{self.port}",
        )

    def start(self) -> ThirdParty:
        self.process.start()
        self.process.wait_http(self.url + "/healthz")
        return self

    def stop(self) -> None:
        self.process.kill()

    def restart(self, env: dict[str, str] | None = None) -> ThirdParty:
        self.process.kill()
        self.process.env.update(env or {})
        return self.start()

    def faults(self, **patch: Any) -> dict[str, Any]:
        response = httpx.put(self.url + "/admin/faults", json=patch, timeout=5)
        response.raise_for_status()
        faults: dict[str, Any] = response.json()
        return faults

    def reset(self, **faults: Any) -> None:
        """Forget every receipt and counter, and set the faults (all off unless given)."""
        httpx.post(self.url + "/admin/reset", timeout=5).raise_for_status()
        self.faults(
            **{
                "errorRate": 0,
                "refusalRate": 0,
                "timeoutRate": 0,
                "latencyMs": 0,
                "jitterMs": 0,
                "conflictRate": 0,
                "outage": False,
                "errorKeys": [],
                "statusOverride": None,
                **faults,
            }
        )

    def stats(self) -> dict[str, int]:
        stats: dict[str, int] = httpx.get(self.url + "/stats", timeout=5).json()
        return stats

    def receipt_ref(self, key: str) -> str | None:
        response = httpx.get(f"{self.url}/receipts/{key}", timeout=5)
        return str(response.json()["receiptRef"]) if response.status_code == 200 else None

    def order(self, key: str, body: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        return httpx.post(
            self.url + "/orders",
            json=body if body is not None else {"id": key},
            headers={"Idempotency-Key": key},
            **{"timeout": 5, **kw},
        )
