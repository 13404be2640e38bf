"""The lab's offline wheelhouses: MLflow's and the Maestro API's wheels, fetched on the outer machine for the hosts.

The hosts cannot reach PyPI over HTTPS (the egress proxy's CA is not theirs), and air-gapped sites cannot at all,
so the roles install from a tar of wheels the controller fetched (`maestro lab wheelhouses` builds them alone).

The hosts' Python is not the outer machine's (Debian 13's is 3.13, the project's lock is resolved for 3.11), so the
wheels are fetched for the hosts' interpreter, read from the release's base image: `pip download --only-binary
:all: --python-version X.Y --abi cpXY --platform manylinux_<glibc>...` of exactly the lock's pins, without
dependencies (nothing is resolved anew). An offline `pip install --dry-run` for that interpreter then checks that
the pins are complete there, so a dependency the hosts' Python needs but the lock's does not fails the build by name
instead of the host's install.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from maestro.lab.releases import Release
from maestro.lab.system import LabError, console, run
from maestro.lab.topology import LAB_DIR
from maestro.paths import ROOT


@dataclass(frozen=True)
class HostPython:
    """The hosts' interpreter the wheels must fit: its version and its C library's."""

    version: str
    """python_full_version, e.g. 3.13.5."""
    glibc: str
    """e.g. 2.41: manylinux wheels up to this glibc run on the hosts."""

    @property
    def minor(self) -> str:
        """X.Y of the version."""
        return ".".join(self.version.split(".")[:2])

    def target_args(self) -> list[str]:
        """pip's options that fetch and resolve for this interpreter instead of the one running pip."""
        major, minor = (int(x) for x in self.glibc.split(".")[:2])
        abi = "cp" + self.minor.replace(".", "")
        platforms = [f"manylinux_{major}_{m}_x86_64" for m in range(minor, 4, -1)]
        platforms += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
        args = ["--only-binary=:all:", "--python-version", self.minor, "--implementation", "cp", "--abi", abi]
        for platform in platforms:
            args += ["--platform", platform]
        return args


def host_python(image: Path) -> HostPython:
    """The interpreter of a base image (read by running it in the image, as the hosts will)."""
    code = "import platform, sys; print(platform.python_version(), platform.libc_ver()[1])"
    out = run(["chroot", image, "/usr/bin/python3", "-c", code], capture=True).stdout.split()
    return HostPython(version=out[0], glibc=out[1])


def wheelhouse_dir(release: Release, name: str) -> Path:
    """Where the wheels of one wheelhouse of a release are kept (its tar sits beside them)."""
    return LAB_DIR / "cache" / "wheels" / release.suite / name


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


def build_wheelhouse(
    release: Release,
    python: HostPython,
    name: str,
    requirements: str,
    extra_wheels: Sequence[Path] = (),
    digest: str = "",
) -> Path:
    """Fetch the wheels for `requirements` for the hosts' Python on the outer machine (hosts cannot reach PyPI)."""
    out = wheelhouse_dir(release, name)
    stamp = out / ".maestro-digest"
    key = hashlib.sha256(f"binary-v3 {python}\n{requirements}".encode()).hexdigest()
    tar = out.with_suffix(".tar")
    if stamp.exists() and stamp.read_text().strip() == key:
        console.print(f"    cached wheels for {name} (Python {python.version})")
    else:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        (out / "requirements.txt").write_text(requirements)
        # The lines the hosts' Python needs, without markers: pip would evaluate them for the Python running it.
        fetch = out / ".fetch.txt"
        fetch.write_text("\n".join(unmarked(requirements, python.version)) + "\n")
        pip = [str(ROOT / ".tools" / "bin" / "pip"), "--disable-pip-version-check"]
        target = python.target_args()
        run([*pip, "download", "--quiet", "--no-deps", *target, "-d", out, "-r", fetch], capture=True)
        _check_complete(pip, target, out, fetch)
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


def _check_complete(pip: list[str], target: list[str], wheels: Path, requirements: Path) -> None:
    """Resolve the requirements offline against the fetched wheels for the hosts' Python; a LabError names what the
    lock's pins lack there (a dependency only that Python needs)."""
    with tempfile.TemporaryDirectory() as scratch:
        offline = ["--dry-run", "--quiet", "--ignore-installed", "--no-index", "--find-links", str(wheels)]
        args = [*pip, "install", *offline, *target, "--target", scratch, "-r", str(requirements)]
        proc = run(args, capture=True, check=False)
    if proc.returncode != 0:
        raise LabError(f"the wheels for the hosts' Python are incomplete:\n{proc.stderr.strip()[-1500:]}")


def unmarked(requirements: str, python: str) -> list[str]:
    """Requirement lines without their environment markers, keeping every line a Linux host with Python `python`
    (e.g. 3.13.5) needs.

    Markers are evaluated for that interpreter on Linux: async-timeout (below 3.11.3 only) is kept for Debian 12's
    3.11.2 and dropped for 3.13; a line only for other operating systems (`sys_platform == "win32"`) is dropped, one
    for all but them (`!= "win32"`) is kept.
    """
    from packaging.markers import Marker, default_environment

    env = {k: str(v) for k, v in default_environment().items()}
    minor = ".".join(python.split(".")[:2])
    env.update(
        sys_platform="linux",
        platform_system="Linux",
        os_name="posix",
        python_full_version=python,
        python_version=minor,
        implementation_name="cpython",
        platform_python_implementation="CPython",
    )
    lines = []
    for line in requirements.splitlines():
        spec, _, marker = line.partition(";")
        if not spec.strip() or spec.lstrip().startswith(("#", "-")):
            continue
        if marker.strip() and not Marker(marker.strip()).evaluate(env):
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


def build_wheelhouses(release: Release, image: Path) -> dict[str, Path]:
    """The MLflow and Maestro API wheelhouses of a release (for the Python of its base image `image`), by name, each
    with the workspace package it serves (the API's wheel, the maestro-auth MLflow app), rebuilt when its sources
    change; and the lab identity provider's."""
    python = host_python(image)
    dev = _export("--only-group", "dev")
    mlflow_req = _closure(dev, ("mlflow", "psycopg2-binary", "boto3"))
    api_req = _export("--no-dev", "--package", "maestro-api")
    wheels, digest = _package_wheels("maestro-api", ROOT / "app")
    # The maestro-auth MLflow app rides along in MLflow's wheelhouse; the mlflow role installs it.
    auth_wheels, auth_digest = _package_wheels(
        "maestro-mlflow-auth", ROOT / "images" / "mlflow" / "maestro_mlflow_auth"
    )
    return {
        "mlflow": build_wheelhouse(release, python, "mlflow", mlflow_req, auth_wheels, auth_digest),
        "maestro_api": build_wheelhouse(release, python, "maestro_api", api_req, wheels, digest),
        "lab_idp": build_wheelhouse(release, python, "lab_idp", _closure(dev, ("oidc-provider-mock",))),
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
