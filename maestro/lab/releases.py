"""The Debian releases the lab builds hosts of: Debian 13 (trixie) by default, Debian 12 (bookworm) on request.

`make lab LAB_RELEASE=bookworm` (`maestro lab up --release bookworm`) picks one; the lab records it in
.lab/state/release while it runs, so every later command (start-host, the tests, `down`) works on the same hosts.
What differs between the releases for the roles (PostgreSQL's major, Redis or Valkey, Patroni's least TTL) is read
from the roles' own per-release variables (ansible/roles/maestro/vars/Debian-<n>.yml), never repeated here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import yaml

from maestro.lab.system import LabError
from maestro.lab.topology import LAB_DIR
from maestro.paths import ROOT

ENV = "LAB_RELEASE"
"""The environment variable (and make variable) that chooses the release of a new lab."""
STATE_FILE = LAB_DIR / "state" / "release"


@dataclass(frozen=True)
class Release:
    """One Debian release the lab can build: its suite (debootstrap's name) and major version."""

    suite: str
    debian: int

    @cached_property
    def role_vars(self) -> dict[str, Any]:
        """The roles' variables of this release (the maestro role's vars/Debian-<n>.yml)."""
        path = ROOT / "ansible" / "roles" / "maestro" / "vars" / f"Debian-{self.debian}.yml"
        data: dict[str, Any] = yaml.safe_load(path.read_text())
        return data

    @property
    def postgres_major(self) -> int:
        """The PostgreSQL major a new cluster of this release gets."""
        return int(self.role_vars["__maestro_postgresql_version"])

    @property
    def redis(self) -> dict[str, Any]:
        """Redis or Valkey: packages, service names, client, directories."""
        server: dict[str, Any] = self.role_vars["__maestro_redis"]
        return server

    @property
    def patroni_min_ttl(self) -> int:
        """The least leader-lock TTL this release's Patroni takes (s)."""
        return int(self.role_vars["__maestro_patroni_min_ttl"])


RELEASES = {r.suite: r for r in (Release("trixie", 13), Release("bookworm", 12))}
DEFAULT = "trixie"


def by_name(name: str) -> Release:
    """The release called `name` (a suite); a LabError lists the supported ones otherwise."""
    try:
        return RELEASES[name]
    except KeyError:
        raise LabError(f"no lab release {name!r}; {ENV} may be {' or '.join(RELEASES)}") from None


def requested() -> Release:
    """The release a new lab gets: $LAB_RELEASE, else Debian 13."""
    return by_name(os.environ.get(ENV) or DEFAULT)


def current() -> Release:
    """The release of the lab that runs (or ran last); the requested one when there is none."""
    if STATE_FILE.exists():
        return by_name(STATE_FILE.read_text().strip())
    return requested()


def record(release: Release) -> None:
    """Remember the running lab's release (`up` writes it, `down` removes it)."""
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    STATE_FILE.write_text(release.suite + "\n")


def forget() -> None:
    """The lab is down: a new one may be of another release."""
    STATE_FILE.unlink(missing_ok=True)
