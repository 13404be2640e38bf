"""The lab's base image: Debian with systemd, SSH and every platform package, built once and cached.

Every host boots from an overlay on this image (maestro/lab/nspawn.py), so a host costs only what it writes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

from maestro.lab.system import console, run, umount_tree
from maestro.lab.topology import LAB_DIR

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"

# Base packages installed by debootstrap itself: enough to boot, log in over SSH and run Ansible.
BOOT_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "python3",
    "python3-apt",
    "iproute2",
    "ca-certificates",
    "acl",
    "procps",
    "less",
)
# The platform's Debian packages, pre-installed so a host's role run needs no download. The roles still
# declare them (production hosts install them from their mirror); here apt finds them already present.
PLATFORM_PACKAGES = (
    "postgresql-15",
    "patroni",
    "python3-psycopg2",
    "python3-etcd",
    "etcd-server",
    "etcd-client",
    "haproxy",
    "pgbackrest",
    "redis-server",
    "redis-sentinel",
    "redis-tools",
    "prometheus",
    "prometheus-alertmanager",
    "prometheus-node-exporter",
    "prometheus-postgres-exporter",
    "prometheus-redis-exporter",
    "nginx",
    "libnginx-mod-http-modsecurity",
    "modsecurity-crs",
    "python3-venv",
    "nftables",
    "curl",
    "openssl",
)
# Services the packages enable on install. They stay disabled in the image; each role enables its own.
DISABLED_SERVICES = (
    "postgresql",
    "patroni",
    "etcd",
    "haproxy",
    "redis-server",
    "redis-sentinel",
    "prometheus",
    "prometheus-alertmanager",
    "prometheus-node-exporter",
    "prometheus-postgres-exporter",
    "prometheus-redis-exporter",
    "nginx",
    "nftables",
    "pgbackrest",
)


def image_key() -> str:
    """A key for the base image: it changes when the package lists or the suite change."""
    spec = json.dumps([SUITE, MIRROR, BOOT_PACKAGES, PLATFORM_PACKAGES, DISABLED_SERVICES, 2])
    return hashlib.sha256(spec.encode()).hexdigest()[:12]


def image_dir() -> Path:
    """Where the base image of the current package lists lives (.lab/images/base-<key>)."""
    return LAB_DIR / "images" / f"base-{image_key()}"


def build_base_image() -> Path:
    """Debootstrap the base image once; a partial build (interrupted run) is discarded and redone."""
    final = image_dir()
    if (final / ".maestro-complete").exists():
        console.print(f"    cached image {final.name}")
        return final
    tmp = final.with_name(final.name + ".partial")
    if tmp.exists():
        umount_tree(tmp)
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    run(["debootstrap", "--variant=minbase", f"--include={','.join(BOOT_PACKAGES)}", SUITE, tmp, MIRROR])
    (tmp / "etc/apt/sources.list").write_text(
        f"deb {MIRROR} {SUITE} main\n"
        f"deb {MIRROR} {SUITE}-updates main\n"
        f"deb http://deb.debian.org/debian-security {SUITE}-security main\n"
    )
    policy = tmp / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\n# Maestro lab image build: no service starts inside the chroot.\nexit 101\n")
    policy.chmod(0o755)
    shutil.copy("/etc/resolv.conf", tmp / "etc/resolv.conf")
    chroot_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    run(["chroot", tmp, "apt-get", "update", "-qq"], env=chroot_env)
    run(
        ["chroot", tmp, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *PLATFORM_PACKAGES],
        env=chroot_env,
    )
    for svc in DISABLED_SERVICES:
        run(["chroot", tmp, "systemctl", "disable", "--quiet", svc], env=chroot_env, check=False)
    run(["chroot", tmp, "systemctl", "enable", "--quiet", "systemd-networkd", "ssh"], env=chroot_env)
    run(["chroot", tmp, "apt-get", "clean"], env=chroot_env)
    policy.unlink()
    # Each host gets its own identity at first boot: no shared machine id or SSH host keys in the image.
    (tmp / "etc/machine-id").write_text("")
    for key in (tmp / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (tmp / ".maestro-complete").write_text(dt.datetime.now(dt.UTC).isoformat() + "\n")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final
