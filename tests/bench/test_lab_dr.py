"""The lab restore-drill benchmark (bench/lab_dr.py): pgbench from the lab release's PostgreSQL. No lab."""

from __future__ import annotations

import pytest

from bench import lab_dr
from maestro.lab import releases


@pytest.mark.parametrize(("suite", "major"), [("trixie", 17), ("bookworm", 15)])
def test_pgbench_is_the_lab_releases(suite: str, major: int) -> None:
    command = lab_dr.pgbench_command(releases.RELEASES[suite], 5432, 70)
    assert command.startswith(f"runuser -u postgres -- /usr/lib/postgresql/{major}/bin/pgbench ")
    assert command.endswith(" -p 5432 -i -q -s 70 pgbench")
