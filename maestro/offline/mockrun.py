"""Evaluate the Pulumi program offline, under `pulumi.runtime.set_mocks`, and record what it registers.

This is the harness behind `make preview`, the unit tests and the policy pack's offline `make check`.

What a recorded resource carries, and how it relates to what the real engine sees:

- `inputs` are the properties the Python SDK sends to the engine in RegisterResource, deserialized: keys are
  camelCase for provider resources (the SDK translates `block_public_acls` to `blockPublicAcls` before the
  request), plain dicts/lists/str/number/bool. Component resources (`maestro:...`) carry no inputs.
- Secrets stay recognisable: a secret value is the SDK's wire form, a dict
  `{SECRET_SIG_KEY: SECRET_SIG, "value": <plaintext>}` (use `is_secret` / `unwrap_secret`). As in the engine,
  secretness is pushed up to the enclosing top-level property or list (a Secret `stringData` map is secret as a
  whole).
- Values only known after deployment (ids, ARNs, endpoints) are filled in by `MaestroMocks` with deterministic
  fake values, so the program's `apply` chains run the same way they do in `pulumi up`.
- `parent` is the parent URN ("" for the stack itself), `provider` the provider reference the engine would
  get (`<provider urn>::<id>`, "" when the default provider is used); `options` the resource options the engine
  acts on (protect, ignoreChanges, aliases, ...), `property_dependencies` which resources each input came from.
- `transforms` run as the engine runs them (the SDK's mock monitor does not): before a resource is registered,
  its own transforms, then each ancestor's, change its inputs. Only their properties are applied; Maestro's
  transforms change no resource option.
- Stack outputs are returned on the list (`RecordedResources.outputs`), deserialized the same way.

Each evaluation runs in a fresh `contextvars.Context`: every Pulumi runtime setting (monitor, stack, config,
root resource, pending outputs) is a context variable, so evaluations are independent and several stacks can be
evaluated in one process. Measured here (2 cores shared with other jobs, load average ~17, dev-kind): 6.7 s per
evaluation in-process after the first, 45.7 s per evaluation in a fresh interpreter (importing the provider SDKs
dominates), so in-process is the default. A warm dev-aws evaluation costs about 3.4 s of CPU.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import hashlib
import json
import runpy
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks as pmocks
from pulumi.runtime import rpc, settings
from pulumi.runtime._callbacks import _CallbackServicer
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_in_stack

from maestro.paths import ROOT

PROJECT = "maestro"
SECRET_SIG_KEY = rpc._special_sig_key
SECRET_SIG = rpc._special_secret_sig

# The fields of a RegisterResourceRequest that are resource options the engine acts on (the others are recorded
# as their own attributes, or are the SDK's capabilities and call-site details).
OPTION_FIELDS = (
    "protect",
    "ignoreChanges",
    "deleteBeforeReplace",
    "additionalSecretOutputs",
    "aliases",
    "aliasURNs",
    "customTimeouts",
    "replaceOnChanges",
    "retainOnDelete",
    "deletedWith",
    "importId",
    "providers",
    "hideDiffs",
    "replaceWith",
    "replacementTrigger",
)

# Deterministic stand-ins for values only the cloud knows.
MOCK_ACCOUNT = "123456789012"
MOCK_ZONES = ("a", "b", "c")


def is_secret(value: Any) -> bool:
    """True when `value` is a secret in the SDK's wire form."""
    return bool(rpc.is_rpc_secret(value))


def unwrap_secret(value: Any) -> Any:
    """The plaintext of a secret (or `value` unchanged when it is not one)."""
    return rpc.unwrap_rpc_secret(value)


def plain(value: Any) -> Any:
    """`value` with every secret wrapper removed, recursively (for assertions on structure)."""
    value = unwrap_secret(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class RecordedResource:
    """One resource registration, as the engine would have received it."""

    urn: str
    """The URN the mock monitor assigned (same shape as the engine's)."""
    type: str
    """The type token, e.g. `aws:s3/bucketV2:BucketV2` or `maestro:kubernetes:Api`."""
    name: str
    """The logical name."""
    inputs: dict[str, Any]
    """The inputs with camelCase keys; secrets in wire form (see `is_secret`)."""
    parent: str = ""
    """The parent's URN ("" only for the stack)."""
    provider: str = ""
    """The provider reference `<urn>::<id>`, or "" for the default provider."""
    custom: bool = True
    """True for provider-managed resources, False for components."""
    id: str = ""
    """The fake physical id the mocks returned."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """The state the mocks returned (inputs plus fake computed values)."""
    dependencies: tuple[str, ...] = ()
    """URNs this resource waits for (`depends_on` plus the resources its inputs came from)."""
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """For each input, the URNs of the resources its value came from."""
    options: dict[str, Any] = field(default_factory=dict)
    """The resource options that are set (`OPTION_FIELDS`, as the engine receives them, e.g. `protect`)."""


class RecordedResources(list[RecordedResource]):
    """The recorded resources, sorted by URN, plus the stack's outputs."""

    def __init__(self, items: list[RecordedResource], outputs: dict[str, Any], stack: str) -> None:
        super().__init__(items)
        self.outputs = outputs
        self.stack = stack

    def of_type(self, type_token: str) -> list[RecordedResource]:
        """Every resource of one type token."""
        return [r for r in self if r.type == type_token]

    def named(self, name: str) -> RecordedResource:
        """The single resource with this logical name (KeyError when absent)."""
        found = [r for r in self if r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}")
        return found[0]

    def by_urn(self) -> dict[str, RecordedResource]:
        return {r.urn: r for r in self}


class UnmockedInvokeError(RuntimeError):
    """The program called an invoke that MaestroMocks does not know (it would silently return {})."""


def _fake_id(name: str) -> str:
    return hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:12]


def _invoke_answers(region: str) -> dict[str, dict[str, Any]]:
    """The result of every invoke the program uses, by token."""
    return {
        "aws:index/getCallerIdentity:getCallerIdentity": {
            "accountId": MOCK_ACCOUNT,
            "arn": f"arn:aws:iam::{MOCK_ACCOUNT}:user/mock",
            "userId": "AIDAMOCK",
            "id": MOCK_ACCOUNT,
        },
        "aws:index/getRegion:getRegion": {"name": region, "region": region, "id": region},
        "aws:index/getPartition:getPartition": {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"},
        "aws:index/getAvailabilityZones:getAvailabilityZones": {
            "names": [f"{region}{z}" for z in MOCK_ZONES],
            "zoneIds": [f"mock-az{i}" for i in range(len(MOCK_ZONES))],
            "id": region,
        },
        "aws:ecr/getAuthorizationToken:getAuthorizationToken": {
            "authorizationToken": "bW9jazptb2Nr",
            "userName": "AWS",
            "password": "mock-ecr-password",
            "proxyEndpoint": f"https://{MOCK_ACCOUNT}.dkr.ecr.{region}.amazonaws.com",
            "id": region,
        },
        "azure-native:containerservice:listManagedClusterUserCredentials": {
            "kubeconfigs": [
                {"name": "clusterUser", "value": base64.b64encode(b"apiVersion: v1\nkind: Config\n").decode()}
            ],
        },
    }


def _cloud_state(typ: str, name: str, state: dict[str, Any]) -> None:
    """What GCP and Azure compute and the GCP/Azure Foundations read (components/foundations/gcp, .../azure)."""
    fake = _fake_id(typ + name)
    if typ == "gcp:container/cluster:Cluster":
        state.update(endpoint="10.0.0.2", masterAuth={"clusterCaCertificate": "TU9DSy1DQQ=="})
    elif typ == "gcp:redis/instance:Instance":
        state.update(host="10.60.32.4", authString=rpc.wrap_rpc_secret(f"mock-auth-{fake}"), serverCaCerts=[])
    elif typ == "gcp:serviceaccount/account:Account":
        project, account = state.get("project", "mock-project"), state.get("accountId", name)
        state.update(
            email=f"{account}@{project}.iam.gserviceaccount.com", name=f"projects/{project}/serviceAccounts/{account}"
        )
    elif typ == "azure-native:managedidentity:UserAssignedIdentity":
        state.update(principalId=f"principal-{fake}", clientId=f"client-{fake}")
    elif typ == "azure-native:containerservice:ManagedCluster":
        state["oidcIssuerProfile"] = {"enabled": True, "issuerURL": f"https://oidc.mock.azure/{fake}/"}
    elif typ == "azure-native:redis:Redis":
        state.update(
            hostName=f"{state.get('name', name)}.redis.cache.windows.net",
            accessKeys={"primaryKey": f"mock-key-{fake}", "secondaryKey": f"mock-key2-{fake}"},
        )
    elif typ == "azure-native:keyvault:Key":
        state["keyUriWithVersion"] = f"https://mock.vault.azure.net/keys/{state.get('keyName', name)}/{fake}"
    elif typ == "azure-native:keyvault:Vault":
        vault = state.get("vaultName", name)
        state["properties"] = {**state.get("properties", {}), "vaultUri": f"https://{vault}.vault.azure.net/"}


class MaestroMocks(pmocks.Mocks):
    """Returns inputs as state plus the computed values the program reads. Every invoke is mocked explicitly."""

    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region

    def call(self, args: pmocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        region = str(args.args.get("region") or self.region)
        answer = _invoke_answers(region).get(args.token)
        if answer is None:
            raise UnmockedInvokeError(
                f"invoke {args.token} is not mocked; add it to maestro.offline.mockrun._invoke_answers"
            )
        return answer, []

    def new_resource(self, args: pmocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        rid = f"{args.name}-{_fake_id(args.typ + args.name)}"
        typ = args.typ
        if typ.startswith("kubernetes:"):
            # A stable UID, as the API server would assign one (`postgresClusterUid` shows it in `make preview`).
            meta = dict(state.get("metadata") or {})
            meta.setdefault("uid", str(uuid.uuid5(uuid.NAMESPACE_URL, args.name)))
            state["metadata"] = meta
        if typ.startswith("aws:"):
            service = typ.split(":")[1].split("/")[0]
            state.setdefault("arn", f"arn:aws:{service}:{self.region}:{MOCK_ACCOUNT}:{args.name}")
        if typ in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            bucket = state.get("bucket") or rid
            state.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}", bucketDomainName=f"{bucket}.s3.amazonaws.com")
            rid = bucket
        elif typ == "aws:eks/cluster:Cluster":
            state.update(
                endpoint=f"https://{_fake_id(args.name).upper()}.gr7.{self.region}.eks.amazonaws.com",
                certificateAuthority={"data": "TU9DSy1DQQ=="},
                identities=[{"oidcs": [{"issuer": f"https://oidc.eks.{self.region}.amazonaws.com/id/MOCK"}]}],
                name=state.get("name") or args.name,
                vpcConfig={**state.get("vpcConfig", {}), "clusterSecurityGroupId": "sg-cluster"},
            )
        elif typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            state["arn"] = f"arn:aws:iam::{MOCK_ACCOUNT}:oidc-provider/oidc.eks.{self.region}.amazonaws.com/id/MOCK"
        elif typ == "aws:iam/role:Role":
            state.setdefault("name", args.name)
            state["arn"] = f"arn:aws:iam::{MOCK_ACCOUNT}:role/{state['name']}"
        elif typ == "aws:kms/key:Key":
            rid = f"key-{_fake_id(args.name)}"
            state["keyId"] = rid
            state["arn"] = f"arn:aws:kms:{self.region}:{MOCK_ACCOUNT}:key/{rid}"
        elif typ == "aws:elasticache/replicationGroup:ReplicationGroup":
            state["primaryEndpointAddress"] = f"master.{args.name}.mock.use1.cache.amazonaws.com"
        elif typ == "aws:ecr/repository:Repository":
            registry = f"{MOCK_ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com"
            state["repositoryUrl"] = f"{registry}/{state.get('name', args.name)}"
        elif typ == "aws:wafv2/webAcl:WebAcl":
            state["arn"] = f"arn:aws:wafv2:{self.region}:{MOCK_ACCOUNT}:regional/webacl/{args.name}/{rid}"
        elif typ == "docker-build:index:Image":
            tags = state.get("tags") or [f"mock/{args.name}:mock"]
            state["ref"] = f"{tags[0].split(':')[0]}@sha256:{hashlib.sha256(args.name.encode()).hexdigest()}"
            state["digest"] = state["ref"].split("@")[1]
        elif typ == "random:index/randomPassword:RandomPassword":
            length = int(state.get("length", 32))
            state["result"] = rpc.wrap_rpc_secret(("M0ck" * length)[:length])
        elif typ.startswith("azure-native:") and isinstance(state.get("identity"), dict):
            # Azure takes user-assigned identities as a list of ids and returns them as a map by id.
            identity = dict(state["identity"])
            assigned = identity.get("userAssignedIdentities")
            if isinstance(assigned, list):
                identity["userAssignedIdentities"] = {i: {"principalId": _fake_id(str(i))} for i in assigned}
            state["identity"] = identity
        elif typ.startswith("kubernetes:") and "metadata" in state:
            meta = dict(state["metadata"])
            meta.setdefault("name", args.name)
            state["metadata"] = meta
            if typ == "kubernetes:networking.k8s.io/v1:Ingress":
                state["status"] = {"loadBalancer": {"ingress": [{"hostname": f"k8s-{args.name}.elb.amazonaws.com"}]}}
        _cloud_state(typ, args.name, state)
        return rid, state


def _run_transform(callback: Any, request: Any, properties: Any) -> Any:
    """Call one transform the program registered, through the SDK's callback server as the engine would, and return
    the properties it produced (a protobuf Struct)."""
    servicer = next(s for s in _CallbackServicer._servicers if callback.token in s._callbacks)
    transform = resource_pb2.TransformRequest(
        type=request.type, name=request.name, custom=request.custom, parent=request.parent, properties=properties
    )

    async def call() -> Any:
        return await servicer._callbacks[callback.token](transform.SerializeToString())

    # The monitor runs on an executor thread while the program's loop waits for it: the callback runs on that loop.
    return asyncio.run_coroutine_threadsafe(call(), servicer._loop).result().properties


class _RecordingMonitor(pmocks.MockMonitor):
    """The SDK's mock monitor, additionally keeping what the engine would see: parent, provider, raw inputs, options;
    and running transforms as the engine does."""

    def __init__(self, mocks: pmocks.Mocks) -> None:
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []
        self.stack_outputs: dict[str, Any] = {}
        self.stack_urn = ""
        self.transforms: dict[str, list[Any]] = {}
        self.parents: dict[str, str] = {}

    def _transformed(self, request: Any) -> Any:
        """`request` with its inputs changed by its own transforms, then its ancestors' (the engine's order)."""
        chain = list(request.transforms)
        current = request.parent
        while current:
            chain += self.transforms.get(current, [])
            current = self.parents.get(current, "")
        if not chain:
            return request
        properties = request.object
        for callback in chain:
            properties = _run_transform(callback, request, properties)
        changed = resource_pb2.RegisterResourceRequest()
        changed.CopyFrom(request)
        changed.object.CopyFrom(properties)
        return changed

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine leaves the stack out of a child's qualified type; the SDK's mock monitor does not.
        if parent.split("::")[2:3] == ["pulumi:pulumi:Stack"]:
            parent = ""
        return str(super().make_urn(parent, type_, name))

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.type != "pulumi:pulumi:Stack":
            request = self._transformed(request)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
            return response
        self.transforms[response.urn] = list(request.transforms)
        self.parents[response.urn] = request.parent
        registration = self.resources[response.urn]
        message = json_format.MessageToDict(request)
        self.recorded.append(
            RecordedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                inputs=rpc.deserialize_properties(request.object),
                parent=request.parent,
                provider=request.provider,
                custom=bool(request.custom),
                id=registration.id or "",
                outputs=dict(registration.state),
                dependencies=tuple(request.dependencies),
                property_dependencies={
                    key: tuple(deps.urns) for key, deps in request.propertyDependencies.items() if deps.urns
                },
                options={key: message[key] for key in OPTION_FIELDS if key in message},
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.urn == self.stack_urn:
            self.stack_outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


def stack_file_for(stack: str) -> Path:
    return ROOT / "stacks" / f"Pulumi.{stack}.yaml"


def load_stack_config(path: Path) -> tuple[dict[str, str], list[str]]:
    """The stack file's config as the engine passes it to the program: every value a string, objects as JSON.

    `secure:` values cannot be decrypted offline; they become the placeholder "mock-secret" and are marked secret.
    """
    data = yaml.safe_load(path.read_text()) or {}
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in (data.get("config") or {}).items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[full_key] = "mock-secret"
            secret_keys.append(full_key)
        elif isinstance(value, str):
            config[full_key] = value
        else:
            config[full_key] = json.dumps(value)
    return config, secret_keys


def _evaluate(stack: str, config: dict[str, str], secret_keys: list[str], program: Path) -> RecordedResources:
    region = config.get("aws:region", "us-east-1")
    monitor = _RecordingMonitor(MaestroMocks(region=region))
    settings.ROOT.set(None)
    settings.configure(
        pmocks.MockSettings(  # type: ignore[no-untyped-call]
            monitor=monitor,
            monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),  # type: ignore[no-untyped-call]
            engine=pmocks.MockEngine(None),
            project=PROJECT,
            stack=stack,
            dry_run=False,
            organization="organization",
            root_directory=str(program.parent),
            callbacks=None,
            package_refs={},
            base_providers_by_ref={},
        )
    )
    set_all_config(config, secret_keys)

    def main() -> None:
        runpy.run_path(str(program), run_name="__main__")

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run_in_stack(main))
    finally:
        loop.close()
    # Registrations run concurrently (as with the engine), so their order varies: sort by URN for stable output.
    return RecordedResources(sorted(monitor.recorded, key=lambda r: r.urn), monitor.stack_outputs, stack)


def evaluate_stack(stack: str, *, stack_file: Path | None = None) -> RecordedResources:
    """Evaluate `__main__.py` under mocks with the config of `stacks/Pulumi.<stack>.yaml` (or `stack_file`).

    Returns every resource registered, sorted by URN; the stack outputs are on `.outputs`. Raises whatever the program
    raises (a `components.config.ConfigError` names the offending key).
    """
    path = stack_file if stack_file is not None else stack_file_for(stack)
    if not path.is_file():
        raise FileNotFoundError(f"no stack file {path}")
    config, secret_keys = load_stack_config(path)
    return evaluate_config(stack, config, secret_keys=secret_keys)


def evaluate_config(
    stack: str, config: Mapping[str, str], *, secret_keys: list[str] | None = None, program: Path | None = None
) -> RecordedResources:
    """Like `evaluate_stack`, with the config given directly (keys `maestro:...`, `aws:region`, values strings)."""
    prog = program if program is not None else ROOT / "__main__.py"
    ctx = contextvars.Context()
    return ctx.run(_evaluate, stack, dict(config), list(secret_keys or []), prog)


def walk_tree(resources: list[RecordedResource]) -> Iterator[tuple[int, RecordedResource]]:
    """Depth-first (depth, resource) pairs, children under their parent, siblings in the list's order."""
    children: dict[str, list[RecordedResource]] = {}
    urns = {r.urn for r in resources}
    roots: list[RecordedResource] = []
    for r in resources:
        if r.parent in urns:
            children.setdefault(r.parent, []).append(r)
        else:
            roots.append(r)

    def visit(r: RecordedResource, depth: int) -> Iterator[tuple[int, RecordedResource]]:
        yield depth, r
        for child in children.get(r.urn, []):
            yield from visit(child, depth + 1)

    for r in roots:
        yield from visit(r, 0)
