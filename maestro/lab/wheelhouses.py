"""The lab's offline wheelhouses: MLflow's and the Maestro API's wheels, built on the outer machine.

The hosts cannot reach PyPI over HTTPS (the egress proxy's CA is not theirs), and air-gapped sites cannot at all,
so the roles install from a tar of wheels the controller built (`maestro lab wheelhouses` builds them alone).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from maestro.lab.system import console, run
from maestro.lab.topology import LAB_DIR
from maestro.paths import ROOT


def wheelhouse_dir(name: str) -> Path:
    """Where the wheels of one wheelhouse are downloaded (its tar sits beside it)."""
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
            h.update(str(f.relative_to(ROOT)).encode())
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
        fetch.write_text("\n".join(unmarked(requirements)) + "\n")
        # `pip wheel` reuses published wheels and builds the few sdist-only packages; the outer machine runs the
        # same Debian and Python as the hosts, so its wheels fit them.
        pip = ROOT / ".tools" / "bin" / "pip"
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


def unmarked(requirements: str) -> list[str]:
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
    return run([ROOT / ".tools" / "bin" / "uv", *args], capture=capture, env=env).stdout


def _export(*selection: str) -> str:
    """`uv export` of the lock for `selection` (groups or a package), pinned, without hashes or the workspace."""
    return _uv("export", "--frozen", "--no-hashes", "--no-emit-workspace", "--no-header", "--no-annotate", *selection)


def build_wheelhouses() -> dict[str, Path]:
    """The MLflow and Maestro API wheelhouses, by name, each with the workspace package it serves (the API's wheel,
    the maestro-auth MLflow app), rebuilt when its sources change; and the lab identity provider's."""
    dev = _export("--only-group", "dev")
    mlflow_req = _closure(dev, ("mlflow", "psycopg2-binary", "boto3"))
    api_req = _export("--no-dev", "--package", "maestro-api")
    wheels, digest = _package_wheels("maestro-api", ROOT / "app")
    # The maestro-auth MLflow app rides along in MLflow's wheelhouse; the mlflow role installs it.
    auth_wheels, auth_digest = _package_wheels(
        "maestro-mlflow-auth", ROOT / "images" / "mlflow" / "maestro_mlflow_auth"
    )
    return {
        "mlflow": build_wheelhouse("mlflow", mlflow_req, auth_wheels, auth_digest),
        "maestro_api": build_wheelhouse("maestro_api", api_req, wheels, digest),
        "lab_idp": build_wheelhouse("lab_idp", _closure(dev, ("oidc-provider-mock",))),
    }


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

    data = tomllib.loads((ROOT / "uv.lock").read_text())
    graph: dict[str, list[str]] = {}
    for pkg in data.get("package", []):
        deps = [d["name"].lower() for d in pkg.get("dependencies", [])]
        for extra in pkg.get("optional-dependencies", {}).values():
            deps.extend(d["name"].lower() for d in extra)
        graph.setdefault(pkg["name"].lower(), []).extend(deps)
    return graph
