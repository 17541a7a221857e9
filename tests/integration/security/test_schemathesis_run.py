"""Schemathesis as a user would run it: every check, every phase including the stateful
one (create an order, then read it through the links of the document), against the
live API. The document must describe the server exactly: any check that fails (a
status or a header the document does not list, a body outside its schema, a request the
schema allows that the server refuses, or the reverse) fails this test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration.security.conftest import LiveApi

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG = Path(__file__).with_name("schemathesis.toml")
ROOT = Path(__file__).resolve().parents[3]


def test_schemathesis_all_checks_and_phases_find_nothing(live_api: LiveApi, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(CONFIG),
            "run",
            live_api.base_url + "/openapi.json",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            "25",
            "--seed",
            "20261202",
            "--workers",
            "1",
            "--header",
            f"Authorization: Bearer {live_api.key}",
            "--request-timeout",
            "10",
            "--no-color",
        ],
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SCHEMATHESIS_HOOKS": "tests.integration.security.schemathesis_hooks",
            "FUZZ_STORE_ID": live_api.store_id,
            "FUZZ_DEVICE_ID": live_api.device_id,
        },
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=tmp_path,
    )
    report = result.stdout[-12000:] + result.stderr[-3000:]
    assert result.returncode == 0, report
