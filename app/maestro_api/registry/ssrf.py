"""The SSRF guard for model version sources: a source must lie under the tenant's own artifact root.

MLflow would otherwise accept any URI as a version's ``source`` (``s3://other-bucket/...``, ``http://169.254...``,
``runs:/<another tenant's run>``), and whoever later loads the model would fetch from there. So a source must be
``{artifact_root}/{tenant_id}/<something>``: same scheme, same host (bucket), a path strictly below the tenant's
root after normalisation, with no ``..``, no ``.``, no empty segments, no query, fragment, credentials,
backslashes, percent-encoding or control characters.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from maestro_api.core.errors import ProblemError
from maestro_api.registry.scoping import tenant_artifact_root

MAX_SOURCE_LENGTH = 1024


def _refuse(reason: str) -> ProblemError:
    return ProblemError(422, "Invalid model version source", f"source {reason}; it must lie under your artifact root.")


def check_source(source: str, *, artifact_root: str, tenant_id: uuid.UUID) -> str:
    """Return ``source`` unchanged if it is under the tenant's artifact root; raise 422 otherwise."""
    if not source or len(source) > MAX_SOURCE_LENGTH:
        raise _refuse("is empty or too long")
    if any(ord(c) < 0x21 or c in "\\%" or ord(c) == 0x7F for c in source):
        raise _refuse("contains whitespace, control characters, backslashes or percent-encoding")
    root = urlsplit(tenant_artifact_root(artifact_root, tenant_id))
    parts = urlsplit(source)
    if parts.query or parts.fragment or "?" in source or "#" in source:
        raise _refuse("has a query or fragment")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _refuse("carries credentials")
    if parts.scheme.lower() != root.scheme.lower() or parts.netloc.lower() != root.netloc.lower():
        raise _refuse("has another scheme or host")
    root_segments = [s for s in root.path.split("/") if s]
    segments = parts.path.split("/")
    # "/a/b" splits into ["", "a", "b"]: only the leading empty segment (absolute path) is allowed.
    if not segments or segments[0] != "" or any(s in ("", ".", "..") for s in segments[1:]):
        raise _refuse("is not a normalised absolute path")
    segments = segments[1:]
    if len(segments) <= len(root_segments) or segments[: len(root_segments)] != root_segments:
        raise _refuse("is outside the tenant's artifact root")
    return source
