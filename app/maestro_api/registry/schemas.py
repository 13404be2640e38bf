"""Request and response schemas of the registry routes (Create / Update / Public, as the house style splits them).

Names that appear in URL paths are restricted to a safe alphabet; MLflow validates the rest and its refusals
come back as 422.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
TAG_KEY_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}$"
ALIAS_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$"
EXPERIMENT_ID_PATTERN = r"^[0-9]{1,19}$"
RUN_ID_PATTERN = r"^[0-9a-f]{32}$"
VERSION_PATTERN = r"^[1-9][0-9]{0,9}$"

Tags = dict[str, str]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExperimentCreate(_Strict):
    name: str = Field(min_length=1, max_length=256, description="Unique per tenant.")
    tags: Tags = Field(default_factory=dict, max_length=50)


class ExperimentUpdate(_Strict):
    name: str = Field(min_length=1, max_length=256, description="The new name.")


class TagValue(_Strict):
    value: str = Field(max_length=5000)


class RunSearch(_Strict):
    experiment_ids: list[str] = Field(min_length=1, max_length=50)
    filter: str | None = Field(
        default=None, max_length=2000, description="MLflow search filter, evaluated in your tenant."
    )
    max_results: int = Field(default=100, ge=1, le=1000)
    order_by: list[str] = Field(default_factory=list, max_length=10)
    page_token: str | None = Field(default=None, max_length=4000)


class ModelCreate(_Strict):
    name: str = Field(pattern=NAME_PATTERN, description="Unique per tenant.")
    description: str | None = Field(default=None, max_length=5000)
    tags: Tags = Field(default_factory=dict, max_length=50)


class ModelUpdate(_Strict):
    description: str = Field(max_length=5000)


class VersionCreate(_Strict):
    source: str = Field(
        min_length=1, max_length=1024, description="Artifact URI under your tenant's artifact root (checked)."
    )
    run_id: str | None = Field(default=None, pattern=RUN_ID_PATTERN, description="The run that produced it.")
    description: str | None = Field(default=None, max_length=5000)
    tags: Tags = Field(default_factory=dict, max_length=50)


class VersionUpdate(_Strict):
    description: str = Field(max_length=5000)


class AliasSet(_Strict):
    version: str = Field(pattern=VERSION_PATTERN)


class Promote(_Strict):
    alias: str = Field(default="champion", pattern=ALIAS_PATTERN, description="The alias that marks production.")


class ExperimentPublic(BaseModel):
    experiment_id: str
    name: str
    artifact_location: str | None = None
    lifecycle_stage: str | None = None
    creation_time: int | None = None
    last_update_time: int | None = None
    tags: Tags = {}


class RunPublic(BaseModel):
    run_id: str
    run_name: str | None = None
    experiment_id: str
    status: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    artifact_uri: str | None = None
    lifecycle_stage: str | None = None
    params: Tags = {}
    tags: Tags = {}
    metrics: dict[str, float | None] = {}


class VersionPublic(BaseModel):
    name: str
    version: str
    description: str | None = None
    source: str | None = None
    run_id: str | None = None
    status: str | None = None
    status_message: str | None = None
    current_stage: str | None = None
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    tags: Tags = {}
    aliases: list[str] = []


class ModelPublic(BaseModel):
    name: str
    description: str | None = None
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    tags: Tags = {}
    aliases: dict[str, str] = {}
    latest_versions: list[VersionPublic] = []


class ExperimentPage(BaseModel):
    items: list[ExperimentPublic]
    next_page_token: str | None


class RunPage(BaseModel):
    items: list[RunPublic]
    next_page_token: str | None


class ModelPage(BaseModel):
    items: list[ModelPublic]
    next_page_token: str | None


class VersionPage(BaseModel):
    items: list[VersionPublic]
    next_page_token: str | None
