"""`maestro lab ...`: bring the lab up, take it down, show it, and single-host and wheelhouse commands."""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import Annotated

import typer

from maestro import ansible
from maestro.lab import endpoints, image, network, nspawn, pki, releases, s3, wheelhouses
from maestro.lab.inventory import write_inventory
from maestro.lab.system import LabError, console, phase, pid_alive
from maestro.lab.topology import (
    BRIDGE,
    HOSTS,
    INVENTORY,
    LAB_DIR,
    NETWORK,
    NFT_TABLE,
    S3_HOST,
    S3_PORT,
    Host,
    host_by_name,
)

app = typer.Typer(help="The platform on local systemd-nspawn hosts (needs root).", no_args_is_help=True)


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (debootstrap, mounts, bridges, nspawn)")


ReleaseOption = Annotated[
    str,
    typer.Option(
        "--release",
        envvar=releases.ENV,
        help=f"Debian release of the hosts: {' or '.join(releases.RELEASES)} (make lab LAB_RELEASE=...).",
    ),
]


@app.command()
def up(
    skip_ansible: Annotated[bool, typer.Option(help="Boot the hosts and write the inventory only.")] = False,
    release_name: ReleaseOption = releases.DEFAULT,
) -> None:
    """Build (or reuse) the image, boot the hosts, start S3, run site.yml, bootstrap a tenant, print endpoints."""
    total = time.monotonic()
    try:
        _require_root()
        release = _release_to_run(release_name)
        for d in ("state", "hosts", "images", "cache"):
            (LAB_DIR / d).mkdir(parents=True, exist_ok=True)
        releases.record(release)
        with phase(f"base image of Debian {release.debian} ({release.suite}: debootstrap + platform packages, cached)"):
            base = image.build_base_image(release)
        with phase("wheelhouses for MLflow and the API (fetched on this machine for the hosts' Python)"):
            houses = wheelhouses.build_wheelhouses(release, base)
        with phase(f"bridge {BRIDGE} ({NETWORK}) and NAT"):
            network.up()
        with phase("keys, CA and secrets"):
            key = pki.ensure_ssh_key()
            pki_dir = pki.ensure_pki()
            pki.ensure_secrets()
        with phase(f"boot {len(HOSTS)} hosts with systemd-nspawn"):
            nspawn.boot_all(base, key)
        with phase(f"S3 endpoint (moto) on {S3_HOST}:{S3_PORT}"):
            s3.up()
        with phase("inventory ansible/inventories/lab/"):
            write_inventory(key, houses, pki_dir, release)
        if skip_ansible:
            return
        with phase("site.yml"):
            ansible.run_playbook("site.yml", INVENTORY)
        with phase("first tenant"):
            admin_key = endpoints.bootstrap_tenant()
        with phase("endpoints"):
            data = endpoints.endpoints(admin_key)
            endpoints.ENDPOINTS_FILE.write_text(json.dumps(data, indent=2) + "\n")
    except ansible.PlaybookError as exc:
        console.print(f"[red]lab: {exc}; rerun `make lab` after fixing it[/red]")
        raise typer.Exit(1) from exc
    except LabError as exc:
        console.print(f"[red]lab: {exc}[/red]")
        raise typer.Exit(1) from exc
    for name, value in data.items():
        if name != "hosts":
            console.print(f"  {name:18} {value}")
    console.print(f"lab ready in {time.monotonic() - total:.0f} s; endpoints in {endpoints.ENDPOINTS_FILE}")


@app.command()
def down() -> None:
    """Stop the hosts and the S3 endpoint; remove overlays, mounts, the bridge and the NAT table."""
    try:
        _require_root()
    except LabError as exc:
        console.print(f"[red]lab: {exc}[/red]")
        raise typer.Exit(1) from exc
    (LAB_DIR / "state").mkdir(parents=True, exist_ok=True)
    with phase("stop hosts"):
        for host in HOSTS:
            nspawn.stop_host(host)
            if nspawn.host_dir(host).exists():
                shutil.rmtree(nspawn.host_dir(host))
    with phase("stop the S3 endpoint"):
        s3.down()
    with phase(f"remove bridge {BRIDGE} and NAT table {NFT_TABLE}"):
        network.down()
    endpoints.ENDPOINTS_FILE.unlink(missing_ok=True)
    endpoints.forget_tenant_keys()
    releases.forget()


def _release_to_run(name: str) -> releases.Release:
    """The release `up` builds; a LabError when hosts of another release still run (they must go down first)."""
    release = releases.by_name(name)
    running = releases.current() if releases.STATE_FILE.exists() else release
    if running != release and any(pid_alive(nspawn.host_dir(h) / "nspawn.pid") for h in HOSTS):
        raise LabError(f"the lab runs Debian {running.debian} ({running.suite}): `make lab-down` before {name}")
    return release


@app.command()
def status() -> None:
    """Show which hosts run (and whether the S3 endpoint does)."""
    release = releases.current()
    console.print(f"  release Debian {release.debian} ({release.suite})")
    for host in HOSTS:
        pid = pid_alive(nspawn.host_dir(host) / "nspawn.pid")
        state = f"running (nspawn pid {pid})" if pid else "stopped"
        console.print(f"  {host.name:6} {host.ip:14} {state}")
    pid = pid_alive(s3.PID_FILE)
    console.print(f"  {'s3':6} {S3_HOST:14} {f'running (pid {pid})' if pid else 'stopped'}")


@app.command("stop-host")
def stop_host(name: Annotated[str, typer.Argument(help="A lab host, e.g. db1.")]) -> None:
    """Power one host off cleanly."""
    nspawn.stop_host(_host(name))


@app.command("start-host")
def start_host(name: Annotated[str, typer.Argument(help="A lab host, e.g. db1.")]) -> None:
    """Boot one host again (after stop-host or a crash)."""
    nspawn.start_host(_host(name))


@app.command("wheelhouses")
def build_wheelhouses(release_name: ReleaseOption = releases.DEFAULT) -> None:
    """Build a release's MLflow and Maestro API wheelhouses (its base image too), and print their paths."""
    release = releases.by_name(release_name)
    for name, path in wheelhouses.build_wheelhouses(release, image.build_base_image(release)).items():
        console.print(f"  {name:12} {path}")


@app.command("s3-server", hidden=True)
def s3_server(
    host: Annotated[str, typer.Option(help="Address to listen on.")],
    port: Annotated[int, typer.Option(help="Port to listen on.")],
    cert: Annotated[str, typer.Option(help="Server certificate (PEM).")],
    key: Annotated[str, typer.Option(help="Its private key (PEM).")],
) -> None:
    """Serve the lab's S3 endpoint in the foreground (`maestro lab up` starts it detached)."""
    s3.build_server(host, port, cert, key).serve_forever()


def _host(name: str) -> Host:
    try:
        return host_by_name(name)
    except LabError as exc:
        raise typer.BadParameter(str(exc), param_hint="NAME") from None
