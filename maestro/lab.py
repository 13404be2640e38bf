"""The local lab: the platform's Ansible roles on systemd-nspawn hosts, on one machine.

`make lab` runs `python -m maestro.lab up`; `make lab-down` runs `python -m maestro.lab down`.
Everything the lab creates lives under `.lab/` (images, overlays, keys, secrets, endpoints), on the bridge
`maestro0` with the subnet 10.77.41.0/24, and in the nftables table `inet maestro_lab`. `down` removes the
hosts, mounts, bridge and NAT table and restores `net.ipv4.ip_forward`; it touches nothing else.

Every phase is idempotent, so an interrupted or failed `up` is repaired by running `up` again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console

REPO = Path(__file__).resolve().parent.parent
LAB_DIR = REPO / ".lab"
INVENTORY_DIR = REPO / "ansible" / "inventories" / "lab"

BRIDGE = "maestro0"
NETWORK = ipaddress.ip_network("10.77.41.0/24")
GATEWAY = "10.77.41.1"
NFT_TABLE = "maestro_lab"
DOMAIN = "maestro.lab"
S3_HOST = f"s3.{DOMAIN}"
# The S3 endpoint is a lab-only service (production points at a real object store), so its port is the lab's own.
S3_PORT = 9443
S3_BUCKETS = ("maestro-backups", "maestro-artifacts")
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"

console = Console(highlight=False)
app = typer.Typer(help="The Maestro lab on systemd-nspawn hosts.", no_args_is_help=True)


@dataclass(frozen=True)
class Host:
    """One lab host: its name, address and the inventory groups it belongs to."""

    name: str
    ip: str
    groups: tuple[str, ...]


HOSTS: tuple[Host, ...] = (
    Host("db1", "10.77.41.11", ("etcd", "postgres", "redis")),
    Host("db2", "10.77.41.12", ("etcd", "postgres", "redis")),
    Host("db3", "10.77.41.13", ("etcd", "postgres", "redis")),
    Host("app1", "10.77.41.21", ("haproxy", "mlflow", "api")),
    Host("edge1", "10.77.41.31", ("edge",)),
    Host("mon1", "10.77.41.41", ("monitoring", "grafana")),
    # Restores and drills go here (`maestro drill`): PostgreSQL and pgBackRest's configuration, no cluster.
    Host("dr1", "10.77.41.51", ("postgres_restore",)),
)

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


class LabError(RuntimeError):
    """A lab phase failed; the message says which and why."""


# --------------------------------------------------------------------------------------------------------- helpers


def run(
    cmd: Sequence[str | Path], *, check: bool = True, capture: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise a LabError that names it and shows its stderr."""
    args = [str(c) for c in cmd]
    proc = subprocess.run(  # noqa: S603 - argument lists built here, never a shell string
        args, check=False, text=True, capture_output=capture, env=env
    )
    if check and proc.returncode != 0:
        detail = (proc.stderr or "").strip()[-2000:] if capture else ""
        raise LabError(f"command failed ({proc.returncode}): {' '.join(args)}\n{detail}")
    return proc


@contextlib.contextmanager
def phase(title: str) -> Iterator[None]:
    """Print one line per phase with its duration."""
    start = time.monotonic()
    console.print(f"[bold]==>[/bold] {title} ...")
    try:
        yield
    except BaseException:
        console.print(f"[red]FAILED[/red] {title} after {time.monotonic() - start:.1f} s")
        raise
    console.print(f"[green]ok[/green]  {title} ({time.monotonic() - start:.1f} s)")


def wait_until(what: str, predicate: Callable[[], bool], timeout: float, interval: float = 0.5) -> None:
    """Poll `predicate` until it holds or raise a LabError naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise LabError(f"timed out after {timeout:.0f} s waiting for {what}")


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid_file: Path) -> int | None:
    """The pid recorded in pid_file if that process still runs, else None."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def is_mounted(path: Path) -> bool:
    """True if path is a mount point (read from /proc/self/mountinfo, which also sees overlay mounts)."""
    target = str(path.resolve())
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4] == target for line in fh)


# ---------------------------------------------------------------------------------------------------- base image


def image_key() -> str:
    """A key for the base image: it changes when the package lists or the suite change."""
    spec = json.dumps([SUITE, MIRROR, BOOT_PACKAGES, PLATFORM_PACKAGES, DISABLED_SERVICES, 2])
    return hashlib.sha256(spec.encode()).hexdigest()[:12]


def image_dir() -> Path:
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


def umount_tree(root: Path) -> None:
    """Unmount anything mounted below root (left by an interrupted chroot step)."""
    target = str(root.resolve())
    with open("/proc/self/mountinfo") as fh:
        mounts = [line.split()[4] for line in fh]
    for mnt in sorted((m for m in mounts if m == target or m.startswith(target + "/")), reverse=True):
        run(["umount", "-l", mnt], check=False)


# ---------------------------------------------------------------------------------------------------- wheelhouses


def wheelhouse_dir(name: str) -> Path:
    return LAB_DIR / "cache" / "wheels" / name


def _sources_digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for root in paths:
        files = (
            [root]
            if root.is_file()
            else sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        )
        for f in files:
            h.update(str(f.relative_to(REPO)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def build_wheelhouse(name: str, requirements: str, extra_wheels: Sequence[Path] = (), digest: str = "") -> Path:
    """Download the wheels for `requirements` on the outer machine (hosts cannot reach PyPI over HTTPS)."""
    out = wheelhouse_dir(name)
    stamp = out / ".maestro-digest"
    key = hashlib.sha256(("unmarked-v2\n" + requirements).encode()).hexdigest()
    tar = out.with_suffix(".tar")
    if stamp.exists() and stamp.read_text().strip() == key:
        console.print(f"    cached wheels for {name}")
    else:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        req = out / "requirements.txt"
        req.write_text(requirements)
        # Markers are evaluated where pip runs: this machine's Python may be a newer patch release than the hosts'
        # (async-timeout is only needed below 3.11.3, say), so every Linux-relevant line is fetched unconditionally.
        fetch = out / ".fetch.txt"
        fetch.write_text("\n".join(_unmarked(requirements)) + "\n")
        # `pip wheel` reuses published wheels and builds the few sdist-only packages; the outer machine runs the
        # same Debian and Python as the hosts, so its wheels fit them.
        pip = REPO / ".tools" / "bin" / "pip"
        run([pip, "wheel", "--quiet", "--no-deps", "-w", out, "-r", fetch], capture=True)
        stamp.write_text(key + "\n")
        tar.unlink(missing_ok=True)
    tar_stamp = out / ".maestro-tar"
    tar_key = key + digest
    if tar.exists() and tar_stamp.exists() and tar_stamp.read_text().strip() == tar_key:
        return tar
    for old in out.glob("maestro_api-*.whl"):
        old.unlink()
    for wheel in extra_wheels:
        shutil.copy(wheel, out / wheel.name)
    _write_tar(out, tar)
    tar_stamp.write_text(tar_key + "\n")
    return tar


def _unmarked(requirements: str) -> list[str]:
    """Requirement lines without their environment markers, keeping every line a Linux host needs.

    A marker is evaluated for Linux twice, with this machine's Python and with the hosts' (Debian 12's 3.11.2),
    and the line is kept when either needs it (async-timeout is only needed below 3.11.3, say); a line only for
    other operating systems (`sys_platform == "win32"`) is dropped, one for all but them (`!= "win32"`) is kept.
    """
    from packaging.markers import Marker, default_environment

    linux = {k: str(v) for k, v in default_environment().items()}
    linux.update(sys_platform="linux", platform_system="Linux", os_name="posix")
    envs = [linux, {**linux, "python_full_version": "3.11.2", "python_version": "3.11"}]
    lines = []
    for line in requirements.splitlines():
        spec, _, marker = line.partition(";")
        if not spec.strip() or spec.lstrip().startswith(("#", "-")):
            continue
        if marker.strip() and not any(Marker(marker.strip()).evaluate(env) for env in envs):
            continue
        lines.append(spec.strip())
    return lines


def _write_tar(src: Path, dest: Path) -> None:
    """A reproducible tar of a wheelhouse (sorted, zero mtimes), so an unchanged one copies as unchanged."""
    import tarfile

    tmp = dest.with_suffix(".tar.tmp")
    with tarfile.open(tmp, "w") as tar:
        for f in sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith(".")):
            info = tar.gettarinfo(str(f), arcname=f.name)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = 0o644
            with open(f, "rb") as fh:
                tar.addfile(info, fh)
    tmp.rename(dest)


def _uv(*args: str, capture: bool = True) -> str:
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never")
    return run([REPO / ".tools" / "bin" / "uv", *args], capture=capture, env=env).stdout


def build_wheelhouses() -> dict[str, Path]:
    """The MLflow and Maestro API wheelhouses (the app's only when it has a CLI to deploy)."""
    houses: dict[str, Path] = {}
    mlflow_req = _uv(
        "export",
        "--frozen",
        "--no-hashes",
        "--no-emit-workspace",
        "--only-group",
        "dev",
        "--no-header",
        "--no-annotate",
    )
    keep = _closure(mlflow_req, ("mlflow", "psycopg2-binary", "boto3"))
    # The maestro-auth MLflow app rides along in MLflow's wheelhouse; the mlflow role installs it.
    auth = _package_wheels("maestro-mlflow-auth", REPO / "images" / "mlflow" / "maestro_mlflow_auth")
    houses["mlflow"] = build_wheelhouse("mlflow", keep, *auth)
    if (REPO / "app" / "maestro_api" / "cli.py").exists():
        api_req = _uv(
            "export",
            "--frozen",
            "--no-hashes",
            "--no-dev",
            "--package",
            "maestro-api",
            "--no-emit-workspace",
            "--no-header",
            "--no-annotate",
        )
        wheels, digest = _package_wheels("maestro-api", REPO / "app")
        houses["maestro_api"] = build_wheelhouse("maestro_api", api_req, wheels, digest)
    else:
        console.print("    [yellow]app/maestro_api/cli.py is not there yet: the API wheelhouse is skipped[/yellow]")
    return houses


def _package_wheels(package: str, sources: Path) -> tuple[list[Path], str]:
    """The wheel of a workspace package, rebuilt when its sources change; and the sources' digest."""
    digest = _sources_digest(sources)
    wheel_dir = LAB_DIR / "cache" / "dist" / package
    stamp = wheel_dir / ".maestro-digest"
    if not (stamp.exists() and stamp.read_text().strip() == digest):
        if wheel_dir.exists():
            shutil.rmtree(wheel_dir)
        _uv("build", "--package", package, "--wheel", "--out-dir", str(wheel_dir))
        stamp.write_text(digest + "\n")
    return sorted(wheel_dir.glob(f"{package.replace('-', '_')}-*.whl")), digest


def _closure(requirements: str, roots: Sequence[str]) -> str:
    """The lines of an exported lock that `roots` need, found with the lock's own dependency graph."""
    lock = _load_lock()
    wanted: set[str] = set()
    stack = [r.lower() for r in roots]
    while stack:
        name = stack.pop()
        if name in wanted:
            continue
        wanted.add(name)
        stack.extend(lock.get(name, ()))
    lines = []
    for line in requirements.splitlines():
        pkg = line.split("==")[0].split("[")[0].strip().lower()
        if line and not line.startswith(("#", "-")) and pkg.replace("_", "-") in wanted:
            lines.append(line)
    return "\n".join(lines) + "\n"


def _load_lock() -> dict[str, list[str]]:
    import tomllib

    data = tomllib.loads((REPO / "uv.lock").read_text())
    graph: dict[str, list[str]] = {}
    for pkg in data.get("package", []):
        deps = [d["name"].lower() for d in pkg.get("dependencies", [])]
        for extra in pkg.get("optional-dependencies", {}).values():
            deps.extend(d["name"].lower() for d in extra)
        graph.setdefault(pkg["name"].lower(), []).extend(deps)
    return graph


# --------------------------------------------------------------------------------------------------------- network


def _nft_ruleset() -> str:
    return (
        f"table inet {NFT_TABLE} {{\n"
        "  chain forward {\n"
        "    type filter hook forward priority filter; policy accept;\n"
        f'    iifname "{BRIDGE}" accept\n'
        f'    oifname "{BRIDGE}" ct state established,related accept\n'
        "  }\n"
        "  chain postrouting {\n"
        "    type nat hook postrouting priority srcnat; policy accept;\n"
        f'    ip saddr {NETWORK} oifname != "{BRIDGE}" masquerade\n'
        "  }\n"
        "}\n"
    )


def network_up() -> None:
    """Create the bridge, its address and the NAT table; enable forwarding (the old value is kept to restore)."""
    if run(["ip", "link", "show", BRIDGE], check=False, capture=True).returncode != 0:
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    addrs = run(["ip", "-4", "-o", "addr", "show", "dev", BRIDGE], capture=True).stdout
    if f"{GATEWAY}/" not in addrs:
        run(["ip", "addr", "add", f"{GATEWAY}/{NETWORK.prefixlen}", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])
    run(["nft", "delete", "table", "inet", NFT_TABLE], check=False, capture=True)
    rules = LAB_DIR / "state" / "nft.conf"
    rules.write_text(_nft_ruleset())
    run(["nft", "-f", rules])
    saved = LAB_DIR / "state" / "ip_forward"
    fwd = Path("/proc/sys/net/ipv4/ip_forward")
    if not saved.exists():
        saved.write_text(fwd.read_text())
    fwd.write_text("1\n")


def network_down() -> None:
    run(["nft", "delete", "table", "inet", NFT_TABLE], check=False, capture=True)
    if run(["ip", "link", "show", BRIDGE], check=False, capture=True).returncode == 0:
        run(["ip", "link", "delete", BRIDGE])
    saved = LAB_DIR / "state" / "ip_forward"
    if saved.exists():
        Path("/proc/sys/net/ipv4/ip_forward").write_text(saved.read_text())
        saved.unlink()


# ------------------------------------------------------------------------------------------------------------- pki


def ensure_pki() -> Path:
    """The lab CA (also used by the roles to sign host certificates) and the S3 endpoint's certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    pki = LAB_DIR / "pki"
    pki.mkdir(parents=True, exist_ok=True)
    pki.chmod(0o700)
    ca_key_path, ca_crt_path = pki / "ca.key", pki / "ca.crt"
    now = dt.datetime.now(dt.UTC)
    if not (ca_key_path.exists() and ca_crt_path.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Maestro lab CA")])
        crt = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_private(
            ca_key_path,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        ca_crt_path.write_bytes(crt.public_bytes(serialization.Encoding.PEM))
    s3_key_path, s3_crt_path = pki / "s3.key", pki / "s3.crt"
    if not (s3_key_path.exists() and s3_crt_path.exists()):
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        ca_crt = x509.load_pem_x509_certificate(ca_crt_path.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        crt = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, S3_HOST)]))
            .issuer_name(ca_crt.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=825))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(S3_HOST), x509.IPAddress(ipaddress.ip_address(GATEWAY))]),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        )
        _write_private(
            s3_key_path,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        s3_crt_path.write_bytes(crt.public_bytes(serialization.Encoding.PEM))
    return pki


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def ensure_ssh_key() -> Path:
    key = LAB_DIR / "keys" / "id_ed25519"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        key.parent.chmod(0o700)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "maestro-lab", "-f", key])
    return key


def ensure_secrets() -> dict[str, str]:
    """Random per-lab secrets, generated once, kept in .lab/secrets.json (mode 0600)."""
    path = LAB_DIR / "secrets.json"
    data: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = (
        "postgres_superuser_password",
        "postgres_replication_password",
        "postgres_rewind_password",
        "mlflow_db_password",
        "api_db_owner_password",
        "api_db_password",
        "redis_password",
        "api_key_pepper",
        "s3_access_key",
        "s3_secret_key",
        "pgbackrest_cipher_pass",
        "postgres_exporter_password",
        "mlflow_token",
        "patroni_rest_password",
        "etcd_root_password",
        "etcd_patroni_password",
        "haproxy_stats_password",
        "prometheus_password",
        "alertmanager_password",
        "exporter_password",
    )
    changed = False
    for name in wanted:
        if name not in data:
            data[name] = secrets.token_urlsafe(24)
            changed = True
    if changed:
        _write_private(path, json.dumps(data, indent=2).encode())
    return data


# ----------------------------------------------------------------------------------------------------------- hosts


def host_dir(host: Host) -> Path:
    return LAB_DIR / "hosts" / host.name


def prepare_root(host: Host, base: Path, key: Path) -> Path:
    """Mount the host's overlay root (lowerdir = base image) and write its identity and network config."""
    hd = host_dir(host)
    root, upper, work = hd / "root", hd / "upper", hd / "work"
    for d in (root, upper, work):
        d.mkdir(parents=True, exist_ok=True)
    base_file = hd / "base"
    if base_file.exists() and base_file.read_text().strip() != str(base):
        # The image changed under an existing host: its writes belong to the old one, start it afresh.
        if is_mounted(root):
            run(["umount", root])
        shutil.rmtree(upper)
        shutil.rmtree(work)
        upper.mkdir()
        work.mkdir()
    base_file.write_text(f"{base}\n")
    if not is_mounted(root):
        run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={base},upperdir={upper},workdir={work}", root])
    (root / "etc/hostname").write_text(f"{host.name}\n")
    hosts_lines = ["127.0.0.1 localhost", f"127.0.1.1 {host.name}.{DOMAIN} {host.name}", f"{GATEWAY} {S3_HOST}"]
    if not (upper / "etc/hosts").exists():
        # First boot only: afterwards the common role owns /etc/hosts.
        (root / "etc/hosts").write_text("\n".join(hosts_lines) + "\n")
    network = root / "etc/systemd/network/10-host0.network"
    network.parent.mkdir(parents=True, exist_ok=True)
    network.write_text(
        "[Match]\nName=host0\n\n[Network]\n"
        f"Address={host.ip}/{NETWORK.prefixlen}\nGateway={GATEWAY}\nIPv6AcceptRA=no\nLinkLocalAddressing=no\n"
    )
    # The outer machine's resolver, not a hard-coded one: it is what this site allows.
    resolv = root / "etc/resolv.conf"
    if resolv.is_symlink():
        resolv.unlink()
    resolv.write_text(Path("/etc/resolv.conf").read_text())
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(key.with_suffix(".pub").read_text())
    (ssh_dir / "authorized_keys").chmod(0o600)
    if not any((root / "etc/ssh").glob("ssh_host_*_key")):
        run(["ssh-keygen", "-A", "-f", root], capture=True)
    return root


def boot_host(host: Host, root: Path) -> None:
    """Boot the host with systemd-nspawn, detached, console to a file."""
    hd = host_dir(host)
    pid_file = hd / "nspawn.pid"
    if pid_alive(pid_file):
        return
    console_log = hd / "console.log"
    cmd = [
        "systemd-nspawn",
        "-b",
        "-D",
        str(root),
        "-M",
        host.name,
        "--register=no",
        "--keep-unit",
        f"--network-bridge={BRIDGE}",
        "--resolv-conf=off",
        "--timezone=off",
        "--console=read-only",
    ]
    with open(console_log, "ab") as log, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(  # noqa: S603 - fixed argument list
            cmd, stdin=devnull, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    pid_file.write_text(f"{proc.pid}\n")


def container_init_pid(host: Host) -> int | None:
    """The pid (outer namespace) of the host's systemd, the child of its nspawn process."""
    nspawn = pid_alive(host_dir(host) / "nspawn.pid")
    if nspawn is None:
        return None
    try:
        children = Path(f"/proc/{nspawn}/task/{nspawn}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def stop_host(host: Host, timeout: float = 30.0) -> None:
    """Power the host off cleanly (SIGTERM to nspawn), then unmount its root."""
    hd = host_dir(host)
    pid = pid_alive(hd / "nspawn.pid")
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and pid_alive(hd / "nspawn.pid"):
            time.sleep(0.2)
        if pid_alive(hd / "nspawn.pid"):
            os.kill(pid, signal.SIGKILL)
            time.sleep(1)
    root = hd / "root"
    if root.exists() and is_mounted(root):
        for _ in range(10):
            if run(["umount", root], check=False, capture=True).returncode == 0:
                break
            time.sleep(0.5)
        else:
            run(["umount", "-l", root])


def ssh_ready(host: Host) -> bool:
    return tcp_open(host.ip, 22, timeout=0.5)


def boot_all(base: Path, key: Path) -> None:
    for host in HOSTS:
        root = prepare_root(host, base, key)
        boot_host(host, root)
    for host in HOSTS:
        wait_until(f"SSH on {host.name} ({host.ip}); see {host_dir(host) / 'console.log'}", _ssh_probe(host), 90)


def _ssh_probe(host: Host) -> Callable[[], bool]:
    return lambda: ssh_ready(host)


# -------------------------------------------------------------------------------------------------------------- s3


def s3_up(pki: Path) -> None:
    pid_file = LAB_DIR / "state" / "s3.pid"
    if not pid_alive(pid_file):
        log = open(LAB_DIR / "state" / "s3.log", "ab")  # noqa: SIM115 - handed to the detached child
        proc = subprocess.Popen(  # noqa: S603 - fixed argument list
            [
                sys.executable,
                "-m",
                "maestro.lab_s3",
                "--host",
                GATEWAY,
                "--port",
                str(S3_PORT),
                "--cert",
                str(pki / "s3.crt"),
                "--key",
                str(pki / "s3.key"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=REPO,
        )
        pid_file.write_text(f"{proc.pid}\n")
    wait_until(f"the S3 endpoint on {GATEWAY}:{S3_PORT}", lambda: tcp_open(GATEWAY, S3_PORT), 30)
    import boto3

    sec = ensure_secrets()
    s3 = boto3.client(
        "s3",
        endpoint_url=f"https://{GATEWAY}:{S3_PORT}",
        aws_access_key_id=sec["s3_access_key"],
        aws_secret_access_key=sec["s3_secret_key"],
        region_name="us-east-1",
        verify=str(pki / "ca.crt"),
    )
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in S3_BUCKETS:
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)


def s3_down() -> None:
    pid_file = LAB_DIR / "state" / "s3.pid"
    pid = pid_alive(pid_file)
    if pid:
        os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(LabError):
            wait_until("the S3 endpoint to stop", lambda: pid_alive(pid_file) is None, 10)
    pid_file.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------------------- inventory


def write_inventory(key: Path, houses: dict[str, Path], pki: Path) -> Path:
    """Generate ansible/inventories/lab/ (git-ignored): hosts, groups and the lab's variables."""
    groups: dict[str, dict[str, Any]] = {}
    for host in HOSTS:
        for g in host.groups:
            groups.setdefault(g, {"hosts": {}})["hosts"][host.name] = None
    hosts_yml = {
        "all": {
            "hosts": {h.name: {"ansible_host": h.ip} for h in HOSTS},
            "children": groups,
        }
    }
    sec = ensure_secrets()
    lab_vars: dict[str, Any] = {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        "maestro_environment": "dev",
        # Synchronous replication as in prod: the failover test asserts zero lost acknowledged writes.
        "maestro_synchronous_mode": True,
        "maestro_cluster_name": "maestro-lab",
        "maestro_domain": DOMAIN,
        # The outer machine is the lab's operator and Ansible controller (config/network.yaml's `operators`).
        "maestro_operator_networks": [f"{GATEWAY}/32"],
        "maestro_pki_dir": str(pki),
        "maestro_extra_hosts": {S3_HOST: GATEWAY},
        "maestro_public_hostname": f"edge1.{DOMAIN}",
        "maestro_s3_endpoint": S3_HOST,
        "maestro_s3_port": S3_PORT,
        "maestro_s3_region": "us-east-1",
        "maestro_s3_ca_file": str(pki / "ca.crt"),
        "maestro_s3_access_key": sec["s3_access_key"],
        "maestro_s3_secret_key": sec["s3_secret_key"],
        "maestro_wheelhouse_mlflow": str(houses.get("mlflow", "")),
        "maestro_wheelhouse_api": str(houses.get("maestro_api", "")),
        "postgres_superuser_password": sec["postgres_superuser_password"],
        "postgres_replication_password": sec["postgres_replication_password"],
        "postgres_rewind_password": sec["postgres_rewind_password"],
        "postgres_exporter_password": sec["postgres_exporter_password"],
        "mlflow_db_password": sec["mlflow_db_password"],
        "maestro_api_db_owner_password": sec["api_db_owner_password"],
        "maestro_api_db_password": sec["api_db_password"],
        "maestro_api_key_pepper": sec["api_key_pepper"],
        "redis_password": sec["redis_password"],
        "pgbackrest_cipher_pass": sec["pgbackrest_cipher_pass"],
        # Credentials of the internal surfaces (docs/security.md).
        "mlflow_token": sec["mlflow_token"],
        "patroni_rest_password": sec["patroni_rest_password"],
        "etcd_root_password": sec["etcd_root_password"],
        "etcd_patroni_password": sec["etcd_patroni_password"],
        "haproxy_stats_password": sec["haproxy_stats_password"],
        "monitoring_prometheus_password": sec["prometheus_password"],
        "monitoring_alertmanager_password": sec["alertmanager_password"],
        "monitoring_exporter_password": sec["exporter_password"],
        # The lab is small and shares two cores: fewer workers, a tighter failover. Patroni's leader lock lives
        # 10 s instead of the role's 20 s (loop_wait + 2 * retry_timeout <= ttl still holds), which bounds
        # the failover after a crashed leader; docs/benchmarks/lab.md reports what it measured.
        "patroni_ttl": 10,
        "patroni_loop_wait": 1,
        "patroni_retry_timeout": 4,
        "mlflow_workers": 2,
        "maestro_api_workers": 2,
        "grafana_repository_reachable": False,
        "maestro_api_enabled": "maestro_api" in houses,
    }
    INVENTORY_DIR.mkdir(parents=True, exist_ok=True)
    (INVENTORY_DIR / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
    header = "# GENERATED by `make lab` (maestro/lab.py); git-ignored. Edit maestro/lab.py instead.\n"
    _write_if_changed(INVENTORY_DIR / "hosts.yml", header + yaml.safe_dump(hosts_yml, sort_keys=False))
    vars_file = INVENTORY_DIR / "group_vars" / "all" / "lab.yml"
    _write_if_changed(vars_file, header + yaml.safe_dump(lab_vars, sort_keys=False), mode=0o600)
    return INVENTORY_DIR / "hosts.yml"


def _write_if_changed(path: Path, text: str, mode: int = 0o644) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    path.chmod(mode)


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible" / "ansible.cfg")
    env["PATH"] = f"{REPO / '.venv' / 'bin'}:{env.get('PATH', '')}"
    return env


def run_playbook(playbook: str, *extra: str) -> None:
    inventory = INVENTORY_DIR / "hosts.yml"
    cmd = [REPO / ".venv" / "bin" / "ansible-playbook", "-i", inventory, REPO / "ansible" / playbook, *extra]
    proc = subprocess.run([str(c) for c in cmd], check=False, env=ansible_env(), cwd=REPO)  # noqa: S603
    if proc.returncode != 0:
        raise LabError(f"ansible-playbook {playbook} failed ({proc.returncode}); rerun `make lab` after fixing it")


def ssh(host: Host, command: str, *, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess[str]:
    key = LAB_DIR / "keys" / "id_ed25519"
    return run(
        [
            "ssh",
            "-i",
            key,
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "BatchMode=yes",
            f"root@{host.ip}",
            command,
        ],
        check=check,
        capture=capture,
    )


def host_by_name(name: str) -> Host:
    for h in HOSTS:
        if h.name == name:
            return h
    raise LabError(f"no lab host named {name!r}; hosts: {', '.join(h.name for h in HOSTS)}")


# -------------------------------------------------------------------------------------------------------- tenant


def bootstrap_tenant() -> Path | None:
    """Create the first tenant once and keep its admin key in .lab/admin-key (0600)."""
    key_file = LAB_DIR / "admin-key"
    if key_file.exists() and key_file.read_text().strip():
        console.print("    first tenant already bootstrapped")
        return key_file
    app1 = host_by_name("app1")
    probe = ssh(app1, "test -x /opt/maestro-api/venv/bin/maestro-api", check=False)
    if probe.returncode != 0:
        console.print("    [yellow]the Maestro API is not deployed: no tenant bootstrapped[/yellow]")
        return None
    out = ssh(app1, "/usr/local/bin/maestro-api-admin bootstrap --tenant lab --tier standard").stdout
    token = out.strip().splitlines()[-1].strip() if out.strip() else ""
    if not token:
        raise LabError("maestro-api bootstrap printed no key")
    _write_private(key_file, (token + "\n").encode())
    return key_file


def platform_ports() -> dict[str, int]:
    """The platform's port map (config/ports.yaml), shared by both engines."""
    data: dict[str, int] = yaml.safe_load((REPO / "config" / "ports.yaml").read_text())
    return data


def ca_context() -> ssl.SSLContext:
    """TLS that trusts the lab's CA (every lab certificate also names its host's IP)."""
    return ssl.create_default_context(cafile=str(LAB_DIR / "pki" / "ca.crt"))


def endpoints(admin_key: Path | None) -> dict[str, Any]:
    ports = platform_ports()
    edge, app1, mon, db1 = (host_by_name(n) for n in ("edge1", "app1", "mon1", "db1"))
    data: dict[str, Any] = {
        "api": f"https://{edge.ip}:{ports['https']}",
        "api_hostname": f"edge1.{DOMAIN}",
        "ca_file": str(LAB_DIR / "pki" / "ca.crt"),
        "admin_key_file": str(admin_key) if admin_key else None,
        "mlflow_internal": f"http://{app1.ip}:{ports['mlflow']}",
        "postgres_rw": f"{app1.ip}:{ports['haproxy_primary']}",
        "postgres_ro": f"{app1.ip}:{ports['haproxy_replicas']}",
        "haproxy_stats": f"http://{app1.ip}:{ports['haproxy_stats']}/stats",
        "prometheus": f"http://{mon.ip}:{ports['prometheus']}",
        "alertmanager": f"http://{mon.ip}:{ports['alertmanager']}",
        "patroni": f"https://{db1.ip}:{ports['patroni_rest']}",
        "s3": f"https://{GATEWAY}:{S3_PORT}",
        "ssh_key": str(LAB_DIR / "keys" / "id_ed25519"),
        "secrets_file": str(LAB_DIR / "secrets.json"),
        "hosts": {h.name: {"ip": h.ip, "groups": list(h.groups)} for h in HOSTS},
    }
    return data


# -------------------------------------------------------------------------------------------------------- commands


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (debootstrap, mounts, bridges, nspawn)")


@app.command()
def up(skip_ansible: bool = typer.Option(False, help="Boot the hosts and write the inventory only.")) -> None:
    """Build (or reuse) the image, boot the hosts, start S3, run site.yml, bootstrap a tenant, print endpoints."""
    _require_root()
    total = time.monotonic()
    for d in ("state", "hosts", "images", "cache"):
        (LAB_DIR / d).mkdir(parents=True, exist_ok=True)
    try:
        with phase("base image (debootstrap + platform packages, cached)"):
            base = build_base_image()
        with phase("wheelhouses for MLflow and the API (built on this machine, installed offline)"):
            houses = build_wheelhouses()
        with phase(f"bridge {BRIDGE} ({NETWORK}) and NAT"):
            network_up()
        with phase("keys, CA and secrets"):
            key = ensure_ssh_key()
            pki = ensure_pki()
            ensure_secrets()
        with phase(f"boot {len(HOSTS)} hosts with systemd-nspawn"):
            boot_all(base, key)
        with phase(f"S3 endpoint (moto) on {S3_HOST}:{S3_PORT}"):
            s3_up(pki)
        with phase("inventory ansible/inventories/lab/"):
            write_inventory(key, houses, pki)
        if skip_ansible:
            return
        with phase("site.yml"):
            run_playbook("site.yml")
        with phase("first tenant"):
            admin_key = bootstrap_tenant()
        with phase("endpoints"):
            data = endpoints(admin_key)
            (LAB_DIR / "endpoints.json").write_text(json.dumps(data, indent=2) + "\n")
    except LabError as exc:
        console.print(f"[red]lab: {exc}[/red]")
        raise typer.Exit(1) from exc
    for name, value in data.items():
        if name != "hosts":
            console.print(f"  {name:18} {value}")
    console.print(f"lab ready in {time.monotonic() - total:.0f} s; endpoints in {LAB_DIR / 'endpoints.json'}")


@app.command()
def down() -> None:
    """Stop the hosts and the S3 endpoint; remove overlays, mounts, the bridge and the NAT table."""
    _require_root()
    (LAB_DIR / "state").mkdir(parents=True, exist_ok=True)
    with phase("stop hosts"):
        for host in HOSTS:
            stop_host(host)
            if host_dir(host).exists():
                shutil.rmtree(host_dir(host))
    with phase("stop the S3 endpoint"):
        s3_down()
    with phase(f"remove bridge {BRIDGE} and NAT table {NFT_TABLE}"):
        network_down()
    for f in ("endpoints.json", "admin-key"):
        (LAB_DIR / f).unlink(missing_ok=True)


@app.command()
def status() -> None:
    """Show which hosts run."""
    for host in HOSTS:
        pid = pid_alive(host_dir(host) / "nspawn.pid")
        state = f"running (nspawn pid {pid})" if pid else "stopped"
        console.print(f"  {host.name:6} {host.ip:14} {state}")


@app.command("stop-host")
def stop_host_cmd(name: str) -> None:
    """Power one host off cleanly."""
    stop_host(host_by_name(name))


@app.command("start-host")
def start_host_cmd(name: str) -> None:
    """Boot one host again (after stop-host or a crash)."""
    host = host_by_name(name)
    root = prepare_root(host, image_dir(), LAB_DIR / "keys" / "id_ed25519")
    boot_host(host, root)
    wait_until(f"SSH on {name}", lambda: ssh_ready(host), 90)


if __name__ == "__main__":
    app()
