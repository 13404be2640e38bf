"""Alerts on the hosts (node_exporter). HostDown also inhibits every other alert of the same `host`."""

from __future__ import annotations

from dashboards import config as c
from dashboards.alerts._helpers import Target, runbook
from dashboards.alerts.shapes import counter, on_target, state
from dashboards.model import Alert, RuleGroup

HOST = Target("node", "db1:9100", "db1")
FS = {"device": "/dev/vda1", "fstype": "ext4", "mountpoint": "/var/lib/postgresql"}

# name, condition, for, severity, summary, description, runbook(meaning, confirm, fix, verify), value
ALERTS = (
    Alert(
        "HostDown",
        state(HOST, "up", "== 0", match='instance_name!=""'),
        "2m",
        "critical",
        "A host does not answer node_exporter scrapes.",
        "Host {{ $labels.instance_name }} ({{ $labels.instance }}) is down or unreachable.",
        runbook(
            "The machine is down or cut off. Its own service alerts are inhibited while this fires, so this is "
            "the one alert to act on for that host.",
            ["`ping` and `ssh` the host; the hypervisor or cloud console; in the lab, `make lab` status."],
            ["Power the host on or restore its network; Patroni/etcd/Sentinel fail over on their own."],
            ['`up{job="node"}` is 1; the host\'s service alerts that remain are real and need action.'],
        ),
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
        "5m",
        "warning",
        "A filesystem has less than 10% space left.",
        "{{ $labels.mountpoint }} on {{ $labels.instance_name }} has {{ $value | humanizePercentage }} space left.",
        runbook(
            "A full data disk stops Postgres (PANIC on WAL write), etcd (NOSPACE alarm) or Redis persistence.",
            ["`df -h` and `du -xh --max-depth=2 <mountpoint> | sort -h` on the host."],
            [
                "pg_wal growing: WAL archiving is failing (WalArchivingStalled) or a replication slot is stale.",
                "Logs: check logrotate; otherwise grow the volume.",
            ],
            ["Free space above 10% on the hosts dashboard."],
        ),
        "5%",
    ),
    Alert(
        "HostMemoryLow",
        on_target(
            HOST,
            f"node_memory_MemAvailable_bytes{{{HOST.match}}} / node_memory_MemTotal_bytes{{{HOST.match}}}\n"
            f"  < {c.HOST_MEMORY_AVAILABLE_RATIO}",
            {"node_memory_MemAvailable_bytes": "50x20", "node_memory_MemTotal_bytes": "1000x20"},
        ),
        "10m",
        "warning",
        "A host has less than 10% memory available.",
        "{{ $labels.instance_name }} has {{ $value | humanizePercentage }} of its memory available.",
        runbook(
            "The kernel will soon OOM-kill a process, often the biggest: Postgres or MLflow.",
            ["`free -m` and `ps aux --sort=-rss | head` on the host."],
            ["Lower the culprit's memory settings (MLflow workers, shared_buffers) or add memory."],
            ["Available memory above 10%."],
        ),
        "5%",
    ),
    Alert(
        "HostOomKill",
        counter(HOST, "node_vmstat_oom_kill", "15m", "> 0", values="0 1 1x20"),
        "1m",
        "warning",
        "The kernel killed a process for lack of memory.",
        "The OOM killer ran {{ $value | humanize }} times on {{ $labels.instance_name }} in 15 minutes.",
        runbook(
            "A process was killed; systemd restarts it, but a killed Postgres means a failover or a crash recovery.",
            ["`journalctl -k | grep -i 'out of memory'` names the victim."],
            ["See HostMemoryLow; cap the culprit's memory."],
            ["No new OOM kills for 15 minutes."],
        ),
        "1",
    ),
    Alert(
        "HostClockSkew",
        state(HOST, "node_timex_offset_seconds", f"> {c.HOST_CLOCK_SKEW_SECONDS}", fn="abs", values="0.5x20"),
        "10m",
        "warning",
        "A host's clock is off.",
        "The clock of {{ $labels.instance_name }} is off by {{ $value | humanizeDuration }}.",
        runbook(
            "Skewed clocks break JWT expiry checks, TLS validity, etcd leases and backup timestamps.",
            ["`timedatectl timesync-status` or `chronyc tracking` on the host."],
            ["Restart the time daemon; check the NTP servers are reachable."],
            ["The offset stays under 50 ms."],
        ),
        "500ms",
    ),
    Alert(
        "HostTextfileCollectorError",
        state(HOST, "node_textfile_scrape_error", "== 1", values="1x20"),
        "10m",
        "warning",
        "node_exporter cannot read a textfile metrics file.",
        "node_exporter on {{ $labels.instance_name }} fails to parse its textfile directory.",
        runbook(
            "The backup and WAF metrics come from textfiles; a broken file hides them and their alerts go "
            "quiet (or absent).",
            ["`journalctl -u prometheus-node-exporter | grep textfile` names the file and the error."],
            ["Fix or remove the file; writers must write to a temp file and rename it into place."],
            ["`node_textfile_scrape_error` is 0."],
        ),
    ),
)

GROUP = RuleGroup(name="maestro-hosts", file="hosts", area="Hosts", alerts=ALERTS)
