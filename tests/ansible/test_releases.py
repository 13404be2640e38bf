"""The roles on both supported Debian releases from one code path: what each release's variables change in the
rendered configurations (PostgreSQL's major, etcd 3.4's and 3.5's settings, Redis or Valkey), the release's least
Patroni TTL, and an existing cluster keeping its major."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ansible.roles import RELEASES, ROLES, Rendered, render
from tests.ansible.test_admin_configs import PLATFORM, SECRETS

DB = ("db1",)
TEMPLATES: dict[str, str | tuple[str, tuple[str, ...]]] = {
    "patroni.yml": ("patroni/templates/config.yml.j2", DB),
    "etcd.default": ("etcd/templates/etcd.default.j2", DB),
    "pgbackrest.conf": ("pgbackrest/templates/pgbackrest.conf.j2", DB),
    "maestro.conf": ("redis/templates/maestro.conf.j2", DB),
    "redis.conf": ("redis/templates/redis.conf.j2", ("db2",)),
    "sentinel.conf": ("redis/templates/sentinel.conf.j2", DB),
}
ROLES_USED = ("patroni", "pgbackrest", "etcd", "redis")
EXTRA = {**SECRETS, **PLATFORM, "pgbackrest_cipher_pass": "c" * 32}

Files = dict[str, dict[str, str]]


@pytest.fixture(scope="module", params=RELEASES)
def release(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def rendered(release: str, tmp_path_factory: pytest.TempPathFactory) -> Files:
    """The release's configurations of a database host, after the patroni role's checks passed."""
    result = render(
        tmp_path_factory.mktemp(release),
        roles=ROLES_USED,
        templates=TEMPLATES,
        extra_vars=EXTRA,
        checks=("patroni/assert.yml",),
        hosts=("db1", "db2"),
        release=release,
    )
    assert result.returncode == 0, result.output[-4000:]
    return result.files


def _release_vars(release: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROLES / "maestro" / "vars" / f"{release}.yml").read_text())
    return data


def _env(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


@pytest.mark.parametrize(("name", "major"), [("Debian-12", 15), ("Debian-13", 17)])
def test_a_new_cluster_gets_its_releases_postgresql_major(name: str, major: int) -> None:
    assert _release_vars(name)["__maestro_postgresql_version"] == major


def test_patroni_and_pgbackrest_run_the_releases_major(release: str, rendered: Files) -> None:
    major = _release_vars(release)["__maestro_postgresql_version"]
    postgresql = yaml.safe_load(rendered["db1"]["patroni.yml"])["postgresql"]
    assert postgresql["bin_dir"] == f"/usr/lib/postgresql/{major}/bin"
    assert postgresql["data_dir"] == f"/var/lib/postgresql/{major}/maestro-test"
    assert f"pg1-path=/var/lib/postgresql/{major}/maestro-test\n" in rendered["db1"]["pgbackrest.conf"]


def test_etcd_gets_the_settings_of_its_series(release: str, rendered: Files) -> None:
    env = _env(rendered["db1"]["etcd.default"])
    if release == "Debian-12":
        # etcd 3.4: the file a Debian 12 cluster already has (a changed file would restart every member).
        assert env["ETCD_ENABLE_V2"] == '"false"'
        assert not [k for k in env if k.startswith("ETCD_EXPERIMENTAL")]
    else:
        # etcd 3.5: no deprecated v2 flag; the corruption checks etcd advises for the 3.5 series.
        assert "ETCD_ENABLE_V2" not in env
        assert env["ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK"] == '"true"'
        assert env["ETCD_EXPERIMENTAL_COMPACT_HASH_CHECK_ENABLED"] == '"true"'
    assert env["ETCD_CLIENT_CERT_AUTH"] == env["ETCD_PEER_CLIENT_CERT_AUTH"] == '"true"'


@pytest.mark.parametrize(("name", "engine"), [("Debian-12", "redis"), ("Debian-13", "valkey")])
def test_the_release_runs_redis_or_valkey_with_sentinel(name: str, engine: str) -> None:
    server = _release_vars(name)["__maestro_redis"]
    assert server["packages"] == [f"{engine}-server", f"{engine}-sentinel", f"{engine}-tools"]
    assert (server["service"], server["sentinel_service"], server["cli"]) == (
        f"{engine}-server",
        f"{engine}-sentinel",
        f"{engine}-cli",
    )
    assert server["config_dir"] == f"/etc/{engine}" and server["user"] == engine


def test_the_servers_files_are_in_the_engines_directories(release: str, rendered: Files) -> None:
    engine = "redis" if release == "Debian-12" else "valkey"
    settings = rendered["db1"]["maestro.conf"].splitlines()
    assert f"dir /var/lib/{engine}" in settings
    assert f"logfile /var/log/{engine}/{engine}-server.log" in settings
    assert "requirepass " + SECRETS["redis_password"] in settings
    main = rendered["db2"]["redis.conf"].splitlines()
    assert f"include /etc/{engine}/maestro.conf" in main
    assert main[-1].startswith("replicaof 10.20.0.11 ")
    sentinel = rendered["db1"]["sentinel.conf"].splitlines()
    assert f"logfile /var/log/{engine}/{engine}-sentinel.log" in sentinel
    assert any(line.startswith("sentinel monitor maestro-test 10.20.0.11 ") for line in sentinel)


def _check_ttl(tmp: Path, release: str, ttl: int) -> Rendered:
    extra = {**EXTRA, "patroni_ttl": ttl, "patroni_loop_wait": 1, "patroni_retry_timeout": 4}
    tmp.mkdir()
    return render(tmp, roles=("patroni",), templates={}, extra_vars=extra, checks=("patroni/assert.yml",),
                  hosts=DB, release=release)  # fmt: skip


def test_a_ten_second_ttl_passes_on_patroni_3_and_is_refused_on_patroni_4(tmp_path: Path) -> None:
    assert _check_ttl(tmp_path / "12", "Debian-12", 10).returncode == 0
    refused = _check_ttl(tmp_path / "13", "Debian-13", 10)
    assert refused.returncode != 0
    assert "ttl >= 20 (the least this release's Patroni takes)" in refused.output
    assert _check_ttl(tmp_path / "13-ok", "Debian-13", 20).returncode == 0


def _existing_cluster(tmp: Path, major: int) -> Path:
    """A Patroni configuration naming a data directory whose PG_VERSION is `major`, as a running member has."""
    data = tmp / "data"
    data.mkdir(parents=True)
    (data / "PG_VERSION").write_text(f"{major}\n")
    config = tmp / "config.yml"
    config.write_text(yaml.safe_dump({"postgresql": {"data_dir": str(data)}}))
    return config


def test_an_existing_cluster_keeps_its_major_on_a_newer_release(tmp_path: Path) -> None:
    config = _existing_cluster(tmp_path, 15)
    result = render(
        tmp_path,
        roles=("patroni",),
        templates={"patroni.yml": ("patroni/templates/config.yml.j2", DB)},
        extra_vars={**EXTRA, "__patroni_config_file": str(config)},
        checks=("patroni/version.yml",),
        hosts=DB,
        release="Debian-13",
    )
    assert result.returncode == 0, result.output[-4000:]
    assert yaml.safe_load(result.files["db1"]["patroni.yml"])["postgresql"]["bin_dir"] == "/usr/lib/postgresql/15/bin"


def test_asking_an_existing_cluster_for_another_major_is_refused(tmp_path: Path) -> None:
    config = _existing_cluster(tmp_path, 15)
    result = render(
        tmp_path,
        roles=("patroni",),
        templates={},
        extra_vars={**EXTRA, "__patroni_config_file": str(config), "patroni_pg_version": 17},
        checks=("patroni/version.yml",),
        hosts=DB,
        release="Debian-13",
    )
    assert result.returncode != 0
    assert "runs a PostgreSQL 15 cluster, and the inventory sets patroni_pg_version 17" in result.output
