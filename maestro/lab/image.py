"""The lab's base image: Debian with systemd, SSH and every platform package, built once per release and cached.

Every host boots from an overlay on this image (maestro/lab/nspawn.py), so a host costs only what it writes. The
images of the two releases (maestro/lab/releases.py) live side by side: .lab/images/<suite>-<key>/.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

from maestro.lab.releases import Release
from maestro.lab.system import console, run, umount_tree
from maestro.lab.topology import LAB_DIR

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
# Platform packages whose install enables a service of the same name. The image keeps those services disabled;
# each role enables its own.
SERVICE_PACKAGES = (
    "patroni",
    "haproxy",
    "pgbackrest",
    "prometheus",
    "prometheus-alertmanager",
    "prometheus-node-exporter",
    "prometheus-postgres-exporter",
    "prometheus-redis-exporter",
    "nginx",
    "nftables",
)
# The platform's Debian packages, pre-installed so a host's role run needs no download. The roles still
# declare them (production hosts install them from their mirror); here apt finds them already present. PostgreSQL's
# major and Redis or Valkey depend on the release (release_packages).
PLATFORM_PACKAGES = (
    *SERVICE_PACKAGES,
    "python3-psycopg2",
    "python3-etcd",
    "etcd-server",
    "etcd-client",
    "libnginx-mod-http-modsecurity",
    "modsecurity-crs",
    "python3-venv",
    "python3-packaging",
    "curl",
    "openssl",
)
# Every service the packages enable on install, kept disabled in the image.
DISABLED_SERVICES = (*SERVICE_PACKAGES, "postgresql", "etcd")


def release_packages(release: Release) -> tuple[str, ...]:
    """The release's platform packages: the common ones, its PostgreSQL major, and Redis or Valkey."""
    return (*PLATFORM_PACKAGES, f"postgresql-{release.postgres_major}", *release.redis["packages"])


def release_services(release: Release) -> tuple[str, ...]:
    """The services the release's packages enable on install, which the image keeps disabled."""
    return (*DISABLED_SERVICES, release.redis["service"], release.redis["sentinel_service"])


def image_key(release: Release) -> str:
    """A key for the release's base image: it changes when its package lists change."""
    spec = json.dumps([release.suite, MIRROR, BOOT_PACKAGES, release_packages(release), release_services(release), 3])
    return hashlib.sha256(spec.encode()).hexdigest()[:12]


def image_dir(release: Release) -> Path:
    """Where the release's base image lives (.lab/images/<suite>-<key>)."""
    return LAB_DIR / "images" / f"{release.suite}-{image_key(release)}"


def build_base_image(release: Release) -> Path:
    """Debootstrap the release's base image once; a partial build (interrupted run) is discarded and redone."""
    final = image_dir(release)
    if (final / ".maestro-complete").exists():
        console.print(f"    cached image {final.name}")
        return final
    tmp = final.with_name(final.name + ".partial")
    if tmp.exists():
        umount_tree(tmp)
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    suite = release.suite
    run(["debootstrap", "--variant=minbase", f"--include={','.join(BOOT_PACKAGES)}", suite, tmp, MIRROR])
    (tmp / "etc/apt/sources.list").write_text(
        f"deb {MIRROR} {suite} main\n"
        f"deb {MIRROR} {suite}-updates main\n"
        f"deb http://deb.debian.org/debian-security {suite}-security main\n"
    )
    policy = tmp / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\n# Maestro lab image build: no service starts inside the chroot.\nexit 101\n")
    policy.chmod(0o755)
    shutil.copy("/etc/resolv.conf", tmp / "etc/resolv.conf")
    chroot_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    run(["chroot", tmp, "apt-get", "update", "-qq"], env=chroot_env)
    run(
        ["chroot", tmp, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *release_packages(release)],
        env=chroot_env,
    )
    for svc in release_services(release):
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
