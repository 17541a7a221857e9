"""The persisted call counters: they survive a reopen, a reset zeroes them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pos.simulated_third_party.counters import FIELDS, Counters, counters_path


def test_counters_survive_a_reopen_and_a_reset_zeroes_them(tmp_path: Path) -> None:
    path = counters_path(tmp_path / "nested" / "receipts.jsonl")
    assert path.name == "receipts.counters"
    counters = Counters(path)
    assert counters.snapshot() == dict.fromkeys(FIELDS, 0)
    counters.add("received", 3)
    counters.add("duplicates")
    counters.close()
    reopened = Counters(path)
    assert (reopened.get("received"), reopened.get("duplicates")) == (3, 1)
    reopened.clear()
    assert reopened.snapshot() == dict.fromkeys(FIELDS, 0)


def test_counters_survive_a_sigkill_without_close(tmp_path: Path) -> None:
    """No flush or close: the shared mapping's pages belong to the kernel, not the process."""
    path = tmp_path / "c.counters"
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from pos.simulated_third_party.counters import Counters\n"
        "c = Counters(Path(sys.argv[1]))\n"
        "for _ in range(1000): c.add('received')\n"
        "c.add('duplicates', 7)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], check=False)
    assert done.returncode == -9
    counters = Counters(path)
    assert (counters.get("received"), counters.get("duplicates")) == (1000, 7)


def test_a_shorter_file_from_an_older_layout_is_extended(tmp_path: Path) -> None:
    path = tmp_path / "c.counters"
    path.write_bytes((5).to_bytes(8, "little"))  # only "received"
    counters = Counters(path)
    assert counters.get("received") == 5
    assert counters.get(FIELDS[-1]) == 0
