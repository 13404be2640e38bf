"""The drill on loopback: real PostgreSQL 15 + pgBackRest, repository on moto's S3, restores as the CLI runs them.

1. A known workload: one row per transaction; the commit time of each is read back from track_commit_timestamp
   (the time recovery_target_time is compared with).
2. A full backup, then more writes, archived.
3. The data directory is destroyed (the cluster is stopped `immediate`, like a lost host).
4. Restore to a time T between two commits: exactly the transactions committed up to T are present, row for row
   (ids and md5 checksums).
5. More writes that never reach the archive, then whole-cluster loss and a restore to `latest`: everything up to
   the last archived segment is back; the unarchived commits are counted as lost, and nothing else is missing.
6. A restore to a time on the restored timeline, from the backup of the first: the restored history is followed.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maestro.dr import pgbackrest as pgbr
from tests import dr_loopback as lb

pytestmark = [
    pytest.mark.servers,
    pytest.mark.timeout(900),
]

Row = tuple[int, str, datetime]


def _write(cluster: lb.Cluster, n: int, tag: str) -> None:
    with cluster.connect() as conn:
        for i in range(n):
            conn.execute("insert into drill (payload) values (%s)", (f"{tag}-{i}-{time.time_ns()}",))


def _rows(cluster: lb.Cluster) -> list[Row]:
    with cluster.connect() as conn:
        rows = conn.execute("select id, md5(payload), pg_xact_commit_timestamp(xmin) from drill order by id").fetchall()
    return [(int(r[0]), str(r[1]), r[2]) for r in rows]


def _checksum(rows: list[Row]) -> str:
    return hashlib.sha256("".join(f"{i}:{m};" for i, m, _ in rows).encode()).hexdigest()


def test_point_in_time_then_latest_restore(tmp_path: Path) -> None:
    with lb.loopback() as cluster:
        with cluster.connect() as conn:
            conn.execute("create table drill (id bigserial primary key, payload text not null)")
        _write(cluster, 50, "before-backup")
        cluster.pgbackrest(pgbr.backup_command(lb.STANZA, "full", config=str(cluster.config)))
        _write(cluster, 50, "after-backup-1")
        time.sleep(1.5)  # a clear gap between the two batches: T falls inside it
        _write(cluster, 50, "after-backup-2")
        cluster.wait_archived()
        committed = _rows(cluster)
        assert len(committed) == 150

        gap_start, gap_end = committed[99][2], committed[100][2]
        assert gap_end - gap_start > timedelta(seconds=1)
        target_time = gap_start + (gap_end - gap_start) / 2

        # Refusal first: a time before the backup ended is outside the window and nothing is touched.
        backups, window = cluster.info()
        assert window is not None and len(backups) == 1
        with pytest.raises(pgbr.OutsideWindowError):
            cluster.restore(pgbr.Target(window.start - timedelta(seconds=5)), now=datetime.now(UTC))
        assert _rows(cluster) == committed

        # Lose the host: immediate stop, data directory gone.
        cluster.stop("immediate")
        shutil.rmtree(cluster.data)

        aside = cluster.restore(pgbr.Target(target_time), now=datetime.now(UTC))
        assert aside is None  # nothing was left to move aside
        restored = _rows(cluster)
        expected = [r for r in committed if r[2] <= target_time]
        assert len(expected) == 100
        assert [(i, m) for i, m, _ in restored] == [(i, m) for i, m, _ in expected]
        assert _checksum(restored) == _checksum(expected)

        # The restored cluster is on a new timeline and archives again; write, archive, then write unarchived.
        _write(cluster, 15, "after-restore-archived-1")
        time.sleep(1.5)
        _write(cluster, 15, "after-restore-archived-2")
        cluster.wait_archived()
        _write(cluster, 20, "after-restore-unarchived")
        before_loss = _rows(cluster)
        assert len(before_loss) == 150

        # Whole-cluster loss, in place this time: the broken data directory is moved aside, not deleted.
        cluster.stop("immediate")
        aside = cluster.restore(pgbr.Target(None), now=datetime.now(UTC))
        assert aside is not None and Path(aside).is_dir() and (Path(aside) / "PG_VERSION").exists()
        after = _rows(cluster)
        lost = [r for r in before_loss if (r[0], r[1]) not in {(i, m) for i, m, _ in after}]
        # Exactly the commits that never reached the archive are lost; everything archived is back, in order.
        assert [(i, m) for i, m, _ in after] == [(i, m) for i, m, _ in before_loss[:130]]
        assert lost == before_loss[130:] and len(lost) == 20

        # A time on the restored timeline, from the only backup (taken on the first timeline): recovery must follow
        # the restored history, not the abandoned one after the first target.
        t2 = before_loss[114][2] + (before_loss[115][2] - before_loss[114][2]) / 2
        assert before_loss[115][2] - before_loss[114][2] > timedelta(seconds=1)
        cluster.stop("immediate")
        cluster.restore(pgbr.Target(t2), now=datetime.now(UTC) + timedelta(seconds=1))
        assert [(i, m) for i, m, _ in _rows(cluster)] == [(i, m) for i, m, _ in before_loss[:115]]
