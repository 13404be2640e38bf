"""`maestro backups` and `maestro drill` for real: the CLI runs ansible/backup.yml, restore.yml (--target new) and
drill.yml against this machine (ansible_connection=local) and the loopback repository on moto's S3.

What the lab cannot show yet is shown here: the playbooks' read of the repository, the window check, the shared
restore argv, the standalone recovery and its verification, the refusal to restore over a running server, and the
drill metrics. The in-place path (Patroni, etcd) needs the lab.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from maestro.cli import app
from maestro.dr import pgbackrest as pgbr
from tests import dr_loopback as lb
from tests.servers import free_port

pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(os.geteuid() != 0, reason="the playbooks switch to the postgres user (needs root)"),
    pytest.mark.timeout(900),
]


def _inventory(cluster: lb.Cluster, tmp: Path, data_dir: Path, port: int) -> Path:
    inventory = tmp / "hosts.yml"
    host = {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {"drill1": host},
                    "children": {
                        "postgres": {"hosts": {"drill1": None}},
                        "postgres_restore": {"hosts": {"drill1": None}},
                    },
                    "vars": {
                        "maestro_cluster_name": lb.STANZA,
                        "pgbackrest_stanza": lb.STANZA,
                        "pgbackrest_config": str(cluster.config),
                        "patroni_data_dir": str(data_dir),
                        "pgbackrest_textfile_dir": str(tmp / "textfile"),
                        "restore_port": port,
                        "restore_socket_dir": str(cluster.socket_dir),
                        "restore_pg_options": f"-c unix_socket_directories={cluster.socket_dir}",
                        "restore_log": str(cluster.base / "restore.log"),
                    },
                }
            }
        )
    )
    return inventory


def test_backups_and_drill_through_the_playbooks(tmp_path: Path) -> None:
    runner = CliRunner()
    with lb.loopback() as cluster:
        with cluster.connect() as conn:
            conn.execute("create table drill (id int primary key)")
            conn.execute("insert into drill select generate_series(1, 1000)")
        cluster.pgbackrest(pgbr.backup_command(lb.STANZA, "full", config=str(cluster.config)))
        with cluster.connect() as conn:
            conn.execute("insert into drill select generate_series(1001, 1500)")
        cluster.wait_archived()

        # Refused: the "fresh host" data directory is the running source cluster's.
        busy = _inventory(cluster, tmp_path, cluster.data, free_port())
        refused = runner.invoke(app, ["drill", "--inventory", str(busy)])
        assert refused.exit_code == 1, refused.output
        assert (cluster.data / "postmaster.pid").exists()  # untouched, still running
        assert not list(cluster.data.parent.glob("data.before-restore-*"))

        restored_dir = cluster.base / "restored"
        port = free_port()
        inventory = _inventory(cluster, tmp_path, restored_dir, port)
        listed = runner.invoke(app, ["backups", "--inventory", str(inventory)])
        assert listed.exit_code == 0, listed.output
        assert "restorable window: 20" in listed.output

        too_early = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        outside = runner.invoke(app, ["drill", "--inventory", str(inventory), "--to", too_early])
        assert outside.exit_code == 2 and "outside the restorable window" in outside.output
        assert not restored_dir.exists()

        result = runner.invoke(app, ["drill", "--inventory", str(inventory)])
        assert result.exit_code == 0, result.output
        metrics = (tmp_path / "textfile" / "maestro_restore_drill.prom").read_text()
        assert f'maestro_restore_drill_rto_seconds{{cluster="{lb.STANZA}"}}' in metrics
        assert not (restored_dir / "postmaster.pid").exists()  # drill.yml stopped the copy

        # The copy holds everything archived, and it never archived into the source's stanza.
        copy = lb.Cluster(cluster.base, cluster.s3, port)
        lb.run(lb.as_postgres([str(lb.PG_BIN / "pg_ctl"), "-D", str(restored_dir), "-o",
                               f"-c listen_addresses='' -c port={port} -c unix_socket_directories={cluster.socket_dir}",
                               "-l", str(cluster.base / "copy.log"), "-w", "start"]))  # fmt: skip
        try:
            with copy.connect() as conn:
                row = conn.execute("select count(*), current_setting('archive_mode') from drill").fetchone()
                assert row == (1500, "off")
        finally:
            lb.run(lb.as_postgres([str(lb.PG_BIN / "pg_ctl"), "-D", str(restored_dir), "-m", "fast", "-w", "stop"]))
        with cluster.connect() as conn:  # the source cluster kept running throughout
            assert conn.execute("select count(*) from drill").fetchone() == (1500,)
