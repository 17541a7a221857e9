"""Run `pos chaos` as the tests do: a real process whose services coverage does not trace.

Under ``make test`` every Python process the suite starts is traced by coverage (its
``patch = ["subprocess"]`` hands the configuration down in ``COVERAGE_PROCESS_CONFIG``).
A chaos run starts some twenty service processes and pushes thousands of orders through
them; traced, the single-topology run took 170 CPU-seconds instead of 122, and the two
chaos runs were a third of the whole suite's CPU on a 2-core machine. What only these runs
execute is in the `pos chaos` process itself (the fault injector, the fleet, the auditor),
so that process stays traced; it drops the variable before it starts any service, and the
services run code that the other integration tests trace.
"""

from __future__ import annotations

import os
import subprocess
import sys

#: `python -m pos.cli` with one step first: once this process's coverage (if any) started,
#: the processes it spawns are not traced.
_UNTRACED_CHILDREN = (
    "import os, sys\n"
    "os.environ.pop('COVERAGE_PROCESS_CONFIG', None)\n"
    "from pos.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def run_chaos(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """`pos chaos ARGS` with ``env`` over this process's environment; output captured."""
    return subprocess.run(
        [sys.executable, "-c", _UNTRACED_CHILDREN, "chaos", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "COLUMNS": "160", **env},
    )
