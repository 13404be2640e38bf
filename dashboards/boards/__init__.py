"""Grafana dashboards, one module per dashboard; BOARDS lists them (rendered to dashboards/generated/<uid>.json)."""

from __future__ import annotations

from dashboards.boards import api, backups, mlflow, overview, postgres, redis
from dashboards.boards._common import Board

BOARDS: list[Board] = [
    overview.BOARD,
    api.BOARD,
    postgres.BOARD,
    redis.BOARD,
    mlflow.BOARD,
    backups.BOARD,
]
