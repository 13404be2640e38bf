"""What the GCP Foundation receives."""

from __future__ import annotations

from dataclasses import dataclass

from components.config import GcpConfig
from components.foundations.cloud import CloudFoundationArgs


@dataclass(frozen=True)
class GcpFoundationArgs(CloudFoundationArgs[GcpConfig]):
    """The common Foundation args (components/foundations/cloud.py) plus the API's host name. On GCP the tags are
    labels, the WAF is Cloud Armor (`count` previews its rules) and the backup retention is the bucket's retention
    policy."""

    api_hostname: str | None = None
    """The API's public host name: gets a Google-managed certificate and HTTPS only; None serves HTTP (dev)."""
