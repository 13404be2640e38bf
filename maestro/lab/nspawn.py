"""A lab host's life: its overlay root, booting it with systemd-nspawn, reaching it over SSH, stopping it."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from maestro.lab import releases
from maestro.lab.image import image_dir
from maestro.lab.pki import SSH_KEY, SSH_OPTIONS
from maestro.lab.system import is_mounted, pid_alive, run, spawn, stop_process, tcp_open, wait_until
from maestro.lab.topology import BRIDGE, DOMAIN, GATEWAY, HOSTS, LAB_DIR, NETWORK, S3_HOST, Host


def host_dir(host: Host) -> Path:
    """The host's directory: its overlay (root, upper, work), nspawn's pid and the console log."""
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
    if pid_alive(hd / "nspawn.pid"):
        return
    # Both --register=no and --keep-unit: there is no systemd on the outer machine to register with.
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
    spawn(cmd, log=hd / "console.log", pid_file=hd / "nspawn.pid")


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
    """Power the host off cleanly (SIGTERM to nspawn, SIGKILL after `timeout`), then unmount its root."""
    hd = host_dir(host)
    stop_process(hd / "nspawn.pid", timeout)
    root = hd / "root"
    if root.exists() and is_mounted(root):
        for _ in range(10):
            if run(["umount", root], check=False, capture=True).returncode == 0:
                break
            time.sleep(0.5)
        else:
            run(["umount", "-l", root])


def ssh_ready(host: Host) -> bool:
    """True once the host's SSH port accepts connections."""
    return tcp_open(host.ip, 22, timeout=0.5)


def wait_ssh(host: Host) -> None:
    """Wait until the host answers on SSH; the LabError points at its console log."""
    wait_until(f"SSH on {host.name} ({host.ip}); see {host_dir(host) / 'console.log'}", lambda: ssh_ready(host), 90)


def boot_all(base: Path, key: Path) -> None:
    """Boot every lab host from the base image and wait until each answers on SSH."""
    for host in HOSTS:
        boot_host(host, prepare_root(host, base, key))
    for host in HOSTS:
        wait_ssh(host)


def start_host(host: Host) -> None:
    """Boot one host again (after stop_host or a crash) on its existing overlay, and wait for SSH."""
    boot_host(host, prepare_root(host, image_dir(releases.current()), SSH_KEY))
    wait_ssh(host)


def ssh(host: Host, command: str, *, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a shell command on the host as root; a LabError (with its stderr) when it fails and `check` is set."""
    return run(
        ["ssh", "-i", SSH_KEY, *SSH_OPTIONS, "-o", "BatchMode=yes", f"root@{host.ip}", command],
        check=check,
        capture=capture,
    )
