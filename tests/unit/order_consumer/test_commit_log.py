"""The consumers' commit log is what the auditor reads back: the two ends agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pos.ops.audit.commits import read_commit_log
from pos.order_consumer.commit_log import CommitLog


def test_each_acknowledged_commit_reads_back_and_a_torn_last_line_is_skipped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "logs" / "commits.jsonl"
    before = datetime.now(UTC) - timedelta(seconds=1)
    log = CommitLog(path, member="consumer-1")
    log.write("order.created", 0, 41)
    log.write("order.created", 2, 7)
    log.close()
    with path.open("ab") as torn:  # a consumer killed in the middle of its next line
        torn.write(b'{"topic": "order.created", "partition": 1, "off')
    records = read_commit_log(path)
    assert records is not None
    assert [(r.topic, r.partition, r.offset, r.member) for r in records] == [
        ("order.created", 0, 41, "consumer-1"),
        ("order.created", 2, 7, "consumer-1"),
    ]
    assert all(before <= r.at <= datetime.now(UTC) for r in records)
    assert read_commit_log(tmp_path / "none.jsonl") is None
    assert read_commit_log(None) is None
