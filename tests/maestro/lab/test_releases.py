"""The lab's releases: Debian 13 by default, Debian 12 on request, their packages taken from the roles' own
per-release variables (one source), and the lab's Patroni timing within what each release's Patroni takes."""

from __future__ import annotations

import pytest

from maestro.lab import image, releases
from maestro.lab.system import LabError


def test_the_lab_builds_debian_13_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(releases.ENV, raising=False)
    assert releases.requested() == releases.Release("trixie", 13)
    monkeypatch.setenv(releases.ENV, "bookworm")
    assert releases.requested() == releases.Release("bookworm", 12)
    monkeypatch.setenv(releases.ENV, "bullseye")
    with pytest.raises(LabError, match="LAB_RELEASE may be trixie or bookworm"):
        releases.requested()


@pytest.mark.parametrize(
    ("suite", "postgres", "redis"),
    [("trixie", "postgresql-17", "valkey"), ("bookworm", "postgresql-15", "redis")],
)
def test_each_image_holds_its_releases_postgresql_and_redis_or_valkey(suite: str, postgres: str, redis: str) -> None:
    release = releases.by_name(suite)
    packages = image.release_packages(release)
    assert postgres in packages
    assert {f"{redis}-server", f"{redis}-sentinel", f"{redis}-tools"} <= set(packages)
    assert {f"{redis}-server", f"{redis}-sentinel"} <= set(image.release_services(release))
    other = "redis" if redis == "valkey" else "valkey"
    assert not [p for p in packages if p.startswith((other, "postgresql-1")) and p != postgres]


def test_the_images_of_the_two_releases_are_cached_apart() -> None:
    trixie, bookworm = (image.image_dir(releases.by_name(s)) for s in ("trixie", "bookworm"))
    assert trixie.name.startswith("trixie-") and bookworm.name.startswith("bookworm-")
    assert trixie.parent == bookworm.parent


@pytest.mark.parametrize(("suite", "ttl"), [("trixie", 20), ("bookworm", 10)])
def test_the_least_patroni_ttl_comes_from_the_release(suite: str, ttl: int) -> None:
    assert releases.by_name(suite).patroni_min_ttl == ttl
