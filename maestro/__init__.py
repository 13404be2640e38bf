"""Maestro's operator package, behind one CLI (`maestro`, maestro/cli.py).

- cli.py       the `maestro` program: every sub-command, assembled from the rooms below
- paths.py     where the checkout's files are (the repository root)
- ansible.py   running the repository's playbooks (DR and the lab)
- dr/          backups and point-in-time restores: the commands, pgBackRest, Kubernetes clones
- lab/         the platform on local systemd-nspawn hosts, and its failover and restore-drill runners
- offline/     the Pulumi program under mocks: the harness, `preview` and the policy check
"""
