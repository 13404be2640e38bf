"""Alerts on the hosts (node_exporter). HostDown also inhibits every other alert of the same `host`."""

from __future__ import annotations

from dashboards import config as c
from dashboards.alerts._helpers import Target, runbook
from dashboards.alerts.shapes import counter, on_target, state
from dashboards.model import Alert, RuleGroup

HOST = Target("node", "db1:9100", "db1")
FS = {"device": "/dev/vda1", "fstype": "ext4", "mountpoint": "/var/lib/postgresql"}

ALERTS = (
    Alert(
        "HostDown",
        state(HOST, "up", "== 0", match='instance_name!=""'),
        for_="2m",
        severity="critical",
        summary="A host does not answer node_exporter scrapes.",
        description="Host {{ $labels.instance_name }} ({{ $labels.instance }}) is down or unreachable.",
        runbook=runbook(
            "The machine is down or cut off. Its own service alerts are inhibited while this fires, so this is "
            "the one alert to act on for that host.",
            confirm=["`ping` and `ssh` the host; the hypervisor or cloud console; in the lab, `make lab` status."],
            fix=["Power the host on or restore its network; Patroni/etcd/Sentinel fail over on their own."],
            verify=['`up{job="node"}` is 1; the host\'s service alerts that remain are real and need action.'],
        ),
        fired="Host db1 (db1:9100) is down or unreachable.",
    ),
    Alert(
        "HostFilesystemAlmostFull",
        on_target(
            HOST,
            f'node_filesystem_avail_bytes{{{HOST.match}, fstype!~"{c.HOST_FS_EXCLUDED_TYPES}"}}\n'
            f'  / node_filesystem_size_bytes{{{HOST.match}, fstype!~"{c.HOST_FS_EXCLUDED_TYPES}"}}\n'
            f"  < {c.HOST_FS_FREE_RATIO}\n"
            f"and on (instance, device, mountpoint) node_filesystem_readonly{{{HOST.match}}} == 0",
            {
                "node_filesystem_avail_bytes": "5x10",
                "node_filesystem_size_bytes": "100x10",
                "node_filesystem_readonly": "0x10",
            },
            labels=FS,
        ),
        for_="5m",
        severity="warning",
        summary="A filesystem has less than 10% space left.",
        description="{{ $labels.mountpoint }} on {{ $labels.instance_name }} has "
        "{{ $value | humanizePercentage }} space left.",
        runbook=runbook(
            "A full data disk stops Postgres (PANIC on WAL write), etcd (NOSPACE alarm) or Redis persistence.",
            confirm=["`df -h` and `du -xh --max-depth=2 <mountpoint> | sort -h` on the host."],
            fix=[
                "pg_wal growing: WAL archiving is failing (WalArchivingStalled) or a replication slot is stale.",
                "Logs: check logrotate; otherwise grow the volume.",
            ],
            verify=["Free space above 10% on the hosts dashboard."],
        ),
        fired="/var/lib/postgresql on db1 has 5% space left.",
    ),
    Alert(
        "HostMemoryLow",
        on_target(
            HOST,
            f"node_memory_MemAvailable_bytes{{{HOST.match}}} / node_memory_MemTotal_bytes{{{HOST.match}}}\n"
            f"  < {c.HOST_MEMORY_AVAILABLE_RATIO}",
            {"node_memory_MemAvailable_bytes": "50x20", "node_memory_MemTotal_bytes": "1000x20"},
        ),
        for_="10m",
        severity="warning",
        summary="A host has less than 10% memory available.",
        description="{{ $labels.instance_name }} has {{ $value | humanizePercentage }} of its memory available.",
        runbook=runbook(
            "The kernel will soon OOM-kill a process, often the biggest: Postgres or MLflow.",
            confirm=["`free -m` and `ps aux --sort=-rss | head` on the host."],
            fix=["Lower the culprit's memory settings (MLflow workers, shared_buffers) or add memory."],
            verify=["Available memory above 10%."],
        ),
        fired="db1 has 5% of its memory available.",
    ),
    Alert(
        "HostOomKill",
        counter(HOST, "node_vmstat_oom_kill", "15m", "> 0", values="0 1 1x20"),
        for_="1m",
        severity="warning",
        summary="The kernel killed a process for lack of memory.",
        description="The OOM killer ran {{ $value | humanize }} times on {{ $labels.instance_name }} in 15 minutes.",
        runbook=runbook(
            "A process was killed; systemd restarts it, but a killed Postgres means a failover or a crash recovery.",
            confirm=["`journalctl -k | grep -i 'out of memory'` names the victim."],
            fix=["See HostMemoryLow; cap the culprit's memory."],
            verify=["No new OOM kills for 15 minutes."],
        ),
        fired="The OOM killer ran 1 times on db1 in 15 minutes.",
    ),
    Alert(
        "HostClockSkew",
        state(HOST, "node_timex_offset_seconds", f"> {c.HOST_CLOCK_SKEW_SECONDS}", fn="abs", values="0.5x20"),
        for_="10m",
        severity="warning",
        summary="A host's clock is off.",
        description="The clock of {{ $labels.instance_name }} is off by {{ $value | humanizeDuration }}.",
        runbook=runbook(
            "Skewed clocks break JWT expiry checks, TLS validity, etcd leases and backup timestamps.",
            confirm=["`timedatectl timesync-status` or `chronyc tracking` on the host."],
            fix=["Restart the time daemon; check the NTP servers are reachable."],
            verify=["The offset stays under 50 ms."],
        ),
        fired="The clock of db1 is off by 500ms.",
    ),
    Alert(
        "HostTextfileCollectorError",
        state(HOST, "node_textfile_scrape_error", "== 1", values="1x20"),
        for_="10m",
        severity="warning",
        summary="node_exporter cannot read a textfile metrics file.",
        description="node_exporter on {{ $labels.instance_name }} fails to parse its textfile directory.",
        runbook=runbook(
            "The backup and WAF metrics come from textfiles; a broken file hides them and their alerts go "
            "quiet (or absent).",
            confirm=["`journalctl -u prometheus-node-exporter | grep textfile` names the file and the error."],
            fix=["Fix or remove the file; writers must write to a temp file and rename it into place."],
            verify=["`node_textfile_scrape_error` is 0."],
        ),
        fired="node_exporter on db1 fails to parse its textfile directory.",
    ),
)

GROUP = RuleGroup(name="maestro-hosts", file="hosts", area="Hosts", alerts=ALERTS)
