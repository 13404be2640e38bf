"""`maestro policy check` (`make check`): run the policy pack offline over the program evaluated under mocks, as the
engine would.

For each stack: `maestro.offline.mockrun` evaluates `__main__.py` with the stack's config; every recorded resource
is sent to the pack through its Analyzer interface exactly as the engine sends it (an `AnalyzeRequest` per resource
with its inputs, options and provider; one `AnalyzeStackRequest` with every resource's state), after a `Configure`
call with the environment's policy config (policies/config/<env>.json). Two transports:

- `grpc` (default): starts the pack the way the Pulumi CLI does (`python -u -m pulumi.policy <engine> policies`),
  reads the port it prints, and calls it over gRPC;
- `inprocess`: the same analyzer servicer pulumi-policy serves, called directly (no server); used by the tests.

Diagnostics come back as violations; "can't run policy ... during preview" diagnostics (a rule read a value that is
unknown) are reported with status `unknown` and never fail the check. The mocks fill in every output, so shipped
stacks normally have no unknowns; fixtures with unknown sentinels exercise that path.

Exit status: 1 when any mandatory violation is found, 2 on a usage or evaluation error, else 0.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

import grpc
import typer
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from maestro.paths import ROOT

if TYPE_CHECKING:  # the record type only: `check` alone loads mockrun, to evaluate a program
    from maestro.offline.mockrun import RecordedResource as Recorded

PACK_DIR = ROOT / "policies"
CONFIG_DIR = PACK_DIR / "config"
DOCS_PAGE = ROOT / "docs" / "policies.md"
STACKS_DIR = ROOT / "stacks"
UNKNOWN_PREFIX = "can't run policy"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi's wire sentinel for an unknown value
ENVIRONMENTS = ("dev", "staging", "prod")

_SEVERITY = {
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}
_LEVEL = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
_LEVEL_IN = {v: k for k, v in _LEVEL.items()}


def pack() -> ModuleType:
    """The pack's registry module (policies/ is the pack's own directory, not a package of this project)."""
    if str(PACK_DIR) not in sys.path:
        sys.path.insert(0, str(PACK_DIR))
    import maestro_policies.registry as registry

    module: ModuleType = registry
    return module


# --- what the engine sends ---------------------------------------------------------------------------------------


def wire(value: Any) -> Any:
    """A recorded value in the JSON shape of a protobuf Struct; unknown values become the engine's sentinel."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [wire(v) for v in value]
    if type(value).__name__ == "Unknown":  # pulumi.output.Unknown
        return UNKNOWN_STRING
    return str(value)


def struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(wire(props))
    return s


def environment_of(stack: str) -> str:
    """dev-kind -> dev, prod-aws -> prod; anything else is treated as prod (strictest)."""
    head = stack.split("-", 1)[0]
    return head if head in ENVIRONMENTS else "prod"


def _provider_message(
    res: Recorded, by_urn: Mapping[str, Recorded], config: Mapping[str, str]
) -> analyzer_pb2.AnalyzerProviderResource | None:
    if res.provider:
        purn = res.provider.rsplit("::", 1)[0]
        prov = by_urn.get(purn)
        if prov is None:
            return None
        return analyzer_pb2.AnalyzerProviderResource(
            type=prov.type, properties=struct(prov.inputs), urn=prov.urn, name=prov.name
        )
    package = res.type.split(":", 1)[0]
    if package in ("pulumi", "maestro") or not res.type.count(":") >= 2:
        return None
    # The default provider is configured from the stack's `<package>:*` config, as the engine does.
    props = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{package}:")}
    return analyzer_pb2.AnalyzerProviderResource(
        type=f"pulumi:providers:{package}", properties=struct(props), urn="", name="default"
    )


def analyze_requests(
    resources: Sequence[Recorded], config: Mapping[str, str] | None = None
) -> Iterator[analyzer_pb2.AnalyzeRequest]:
    """One AnalyzeRequest per custom resource (components and providers are not analyzed by the engine)."""
    by_urn = {r.urn: r for r in resources}
    for r in resources:
        if not r.custom or r.type.startswith("pulumi:providers:"):
            continue
        req = analyzer_pb2.AnalyzeRequest(
            type=r.type,
            properties=struct(r.inputs),
            urn=r.urn,
            name=r.name,
            options=analyzer_pb2.AnalyzerResourceOptions(parent=r.parent or ""),
        )
        provider = _provider_message(r, by_urn, config or {})
        if provider is not None:
            req.provider.CopyFrom(provider)
        yield req


def analyze_stack_request(
    resources: Sequence[Recorded], config: Mapping[str, str] | None = None
) -> analyzer_pb2.AnalyzeStackRequest:
    """The AnalyzeStackRequest: every resource with its state (inputs plus what the mocks computed)."""
    by_urn = {r.urn: r for r in resources}
    items = []
    for r in resources:
        state = {**r.inputs, **r.outputs}
        rid = r.id
        if rid and "id" not in state and not r.type.startswith(("kubernetes:", "pulumi:", "maestro:")):
            state["id"] = rid  # bridged and azure-native providers carry the id in their state
        item = analyzer_pb2.AnalyzerResource(
            type=r.type,
            properties=struct(state),
            urn=r.urn,
            name=r.name,
            parent=r.parent or "",
            options=analyzer_pb2.AnalyzerResourceOptions(parent=r.parent or ""),
        )
        provider = _provider_message(r, by_urn, config or {})
        if provider is not None:
            item.provider.CopyFrom(provider)
        items.append(item)
    return analyzer_pb2.AnalyzeStackRequest(resources=items)


def policy_config(env: str) -> dict[str, Any]:
    """The environment's policy config as the CLI reads it from --policy-pack-config."""
    path = CONFIG_DIR / f"{env}.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def configure_request(config: Mapping[str, Any]) -> analyzer_pb2.ConfigureAnalyzerRequest:
    req = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, value in config.items():
        pc = analyzer_pb2.PolicyConfig()
        if isinstance(value, str):
            pc.enforcementLevel = _LEVEL_IN[value]
        else:
            props = {k: v for k, v in value.items() if k != "enforcementLevel"}
            if "enforcementLevel" in value:
                pc.enforcementLevel = _LEVEL_IN[value["enforcementLevel"]]
            pc.properties.update(props)
        req.policyConfig[name].CopyFrom(pc)
    return req


# --- the two transports ------------------------------------------------------------------------------------------


class Analyzer(Protocol):
    def GetAnalyzerInfo(self, request: Any, context: Any) -> Any: ...  # noqa: N802 - gRPC names
    def Configure(self, request: Any, context: Any) -> Any: ...  # noqa: N802
    def Analyze(self, request: Any, context: Any) -> Any: ...  # noqa: N802
    def AnalyzeStack(self, request: Any, context: Any) -> Any: ...  # noqa: N802


def inprocess_analyzer(exceptions_path: Path | None = None, today: _dt.date | None = None) -> Analyzer:
    """pulumi-policy's analyzer servicer for this pack, without the server around it."""
    from pulumi_policy import EnforcementLevel
    from pulumi_policy.policy import _PolicyAnalyzerServicer

    registry = pack()
    from maestro_policies import exceptions as exc

    exceptions = exc.load(exceptions_path) if exceptions_path is not None else exc.load()
    policies = registry.build_policies(exceptions, today or _dt.date.today())
    servicer: Analyzer = _PolicyAnalyzerServicer(
        registry.PACK_NAME, "0.1.0", policies, EnforcementLevel.ADVISORY, None, registry.PACK_DESCRIPTION
    )
    return servicer


class _StubAdapter:
    """Gives a gRPC stub the servicer's call signature (request, context)."""

    def __init__(self, stub: analyzer_pb2_grpc.AnalyzerStub) -> None:
        self._stub = stub

    def GetAnalyzerInfo(self, request: Any, context: Any = None) -> Any:  # noqa: N802
        return self._stub.GetAnalyzerInfo(request)

    def GetPluginInfo(self, request: Any, context: Any = None) -> Any:  # noqa: N802
        return self._stub.GetPluginInfo(request)

    def Configure(self, request: Any, context: Any = None) -> Any:  # noqa: N802
        return self._stub.Configure(request)

    def Analyze(self, request: Any, context: Any = None) -> Any:  # noqa: N802
        return self._stub.Analyze(request)

    def AnalyzeStack(self, request: Any, context: Any = None) -> Any:  # noqa: N802
        return self._stub.AnalyzeStack(request)


class PackServer:
    """The pack started as the Pulumi CLI starts a Python policy pack; a context manager that stops it."""

    def __init__(self, python: str = sys.executable, pack_dir: Path = PACK_DIR, timeout: float = 30.0) -> None:
        self.python, self.pack_dir, self.timeout = python, pack_dir, timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: grpc.Channel | None = None
        self.port = 0

    def __enter__(self) -> _StubAdapter:
        # pulumi-analyzer-policy-python runs `python -u -m pulumi.policy <engine address> <pack dir>`; the pack
        # prints the port of its analyzer server as the first line on stdout.
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [self.python, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(self.pack_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.pack_dir,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.isdigit():
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            self.__exit__()
            raise RuntimeError(f"policy pack did not print its port (got {line!r}): {err[-2000:]}")
        self.port = int(line)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        grpc.channel_ready_future(self.channel).result(timeout=self.timeout)
        return _StubAdapter(analyzer_pb2_grpc.AnalyzerStub(self.channel))

    def __exit__(self, *exc: object) -> None:
        if self.channel is not None:
            self.channel.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- results -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    stack: str
    rule: str
    severity: str
    enforcement: str
    status: str
    """"violation", or "unknown" when the rule could not read a value that is unknown until deploy."""
    urn: str
    resource: str
    type: str
    message: str


def _findings(stack: str, response: Any, default_urn: str, names: Mapping[str, tuple[str, str]]) -> Iterator[Finding]:
    for d in response.diagnostics:
        urn = d.urn or default_urn
        name, typ = names.get(urn, ("", ""))
        unknown = d.message.startswith(UNKNOWN_PREFIX)
        message = d.message
        if message.startswith(d.description + "\n"):
            message = message[len(d.description) + 1 :]
        yield Finding(
            stack=stack,
            rule=d.policyName,
            severity=_SEVERITY.get(d.severity, "unspecified"),
            enforcement=_LEVEL.get(d.enforcementLevel, "advisory"),
            status="unknown" if unknown else "violation",
            urn=urn,
            resource=name or ("(stack)" if not urn else urn.rsplit("::", 1)[-1]),
            type=typ,
            message=message,
        )


def run_pack(
    analyzer: Analyzer,
    stack: str,
    resources: Sequence[Recorded],
    env: str,
    stack_config: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Configure the pack for `env` and analyze every resource and then the stack, as the engine does."""
    analyzer.Configure(configure_request(policy_config(env)), None)
    names = {r.urn: (r.name, r.type) for r in resources}
    found: list[Finding] = []
    for req in analyze_requests(resources, stack_config):
        found.extend(_findings(stack, analyzer.Analyze(req, None), req.urn, names))
    found.extend(
        _findings(stack, analyzer.AnalyzeStack(analyze_stack_request(resources, stack_config), None), "", names)
    )
    return found


def evaluate(stack: str, stack_file: Path | None, program: Path | None) -> tuple[list[Any], dict[str, str]]:
    """Evaluate the program for a stack under mocks; returns the recorded resources and the stack config."""
    from maestro.offline import mockrun

    path = stack_file if stack_file is not None else mockrun.stack_file_for(stack)
    config, secret_keys = mockrun.load_stack_config(path)
    recorded = mockrun.evaluate_config(stack, config, secret_keys=secret_keys, program=program)
    return list(recorded), config


def shipped_stacks() -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in STACKS_DIR.glob("Pulumi.*.yaml"))


def mandatory_violations(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.status == "violation" and f.enforcement == "mandatory"]


# --- reports -----------------------------------------------------------------------------------------------------


def print_table(findings: Sequence[Finding], console: Console) -> None:
    """The violations, one row each (what is wrong); then, once per rule, how to fix it and where it is documented."""
    table = Table(title=f"Policy findings ({len(findings)})")
    for col in ("stack", "rule", "severity", "level", "status", "resource", "message"):
        table.add_column(col, overflow="fold")
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    fixes: dict[str, str] = {}
    for f in sorted(findings, key=lambda f: (f.stack, f.enforcement != "mandatory", order.get(f.severity, 9), f.rule)):
        detail, _, fix = f.message.partition(" Fix: ")
        if fix:
            fixes.setdefault(f.rule, fix)
        table.add_row(*(escape(x) for x in (f.stack, f.rule, f.severity, f.enforcement, f.status, f.resource, detail)))
    console.print(table)
    for rule, fix in sorted(fixes.items()):
        console.print(f"[bold]{rule}[/bold] fix: {escape(fix)}")


def to_json(findings: Sequence[Finding]) -> str:
    return json.dumps([asdict(f) for f in findings], indent=2)


_SARIF_LEVEL = {"mandatory": "error", "advisory": "warning"}


def to_sarif(findings: Sequence[Finding], rules: Sequence[Any]) -> dict[str, Any]:
    """SARIF 2.1.0 for code-scanning UIs: one run, the pack's rules as the driver's rules."""
    index = {r.id: i for i, r in enumerate(rules)}
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "level": "note" if f.status == "unknown" else _SARIF_LEVEL.get(f.enforcement, "warning"),
            "message": {"text": f"{f.resource}: {f.message}"},
            "locations": [
                {
                    "physicalLocation": {"artifactLocation": {"uri": f"stacks/Pulumi.{f.stack}.yaml"}},
                    "logicalLocations": [{"fullyQualifiedName": f.urn or f.stack, "kind": "resource"}],
                }
            ],
            "properties": {"stack": f.stack, "severity": f.severity, "status": f.status, "type": f.type},
        }
        if f.rule in index:
            result["ruleIndex"] = index[f.rule]
        results.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "maestro-policycheck",
                        "informationUri": "https://www.pulumi.com/docs/iac/using-pulumi/crossguard/",
                        "rules": [
                            {
                                "id": r.id,
                                "name": r.id,
                                "shortDescription": {"text": r.title},
                                "fullDescription": {"text": r.rationale},
                                "help": {"text": f"{r.fix} {r.docs}"},
                                "helpUri": r.docs,
                                "defaultConfiguration": {"level": _SARIF_LEVEL[r.enforcement]},
                                "properties": {"severity": r.severity, "family": r.family},
                            }
                            for r in rules
                        ],
                    }
                },
                "results": results,
            }
        ],
    }


# --- generated files ---------------------------------------------------------------------------------------------


def render_config(env: str) -> str:
    """policies/config/<env>.json: advisory in dev, mandatory elsewhere; every rule told the environment."""
    level = "advisory" if env == "dev" else "mandatory"
    rules = pack().all_rules()
    data = {r.id: {"enforcementLevel": level, "environment": env} for r in rules}
    return json.dumps(data, indent=2) + "\n"


def render_docs() -> str:
    """docs/policies.md, from the rules themselves."""
    rules = pack().all_rules()
    lines = [
        "# Policy pack: the security baseline",
        "",
        "<!-- Generated by `make policy-docs` (`maestro policy generate`) from policies/maestro_policies."
        " Do not edit. -->",
        "",
        f"{len(rules)} rules in `policies/` (Pulumi CrossGuard, Python). Run them with "
        "`pulumi preview --policy-pack policies --policy-pack-config policies/config/<env>.json`, or offline with "
        "`make check [STACK=<name>]`. `make test` runs the offline check over every shipped stack "
        "(`make check-stacks`).",
        "",
        "- **Enforcement.** The level below is the default (no config). `policies/config/dev.json` makes every rule "
        "advisory; `staging.json` and `prod.json` make every rule mandatory and tell rules with per-environment "
        "thresholds (HA, backup retention, WAF blocking) which environment they judge.",
        "- **Unknown values.** A rule that needs a value only known after deploy is reported as unknown "
        "(advisory), never as a violation.",
        "- **Exceptions.** `policies/exceptions.yaml` lists reviewed exceptions (rule, resource URN or name "
        "pattern, reason, owner, expiry). An expired exception no longer suppresses anything and fails "
        "MAESTRO-GOV-001.",
        "",
        "What the pack cannot see, and how the rules deal with it:",
        "",
        "- **Helm releases are opaque.** Workload rules judge the Kubernetes objects the program creates itself; a "
        "chart's rendered manifests are not visible (its values are: the ingress-nginx WAF settings are read there).",
        "- **Secret markers.** pulumi-policy hands rules the inputs with Pulumi's secret markers removed, so no rule "
        "can ask whether a value was a secret. MAESTRO-SEC-001/002 check where secrets must never appear instead "
        "(literal credential env values and ConfigMap keys, credential-shaped strings).",
        "- **Companion resources.** AWS configures a bucket through separate resources (versioning, logging, "
        "encryption, policy, public access block). Stack rules pair them by the `bucket` name, or by the house naming "
        "rule `<bucket resource name>-<suffix>` when the name is only known after deploy.",
        "",
        "| id | severity | default | scope | covers | rule |",
        "|---|---|---|---|---|---|",
    ]
    for r in rules:
        lines.append(
            f"| [{r.id}](#{r.id.lower()}) | {r.severity} | {r.enforcement} | {r.kind} | {', '.join(r.covers)} | "
            f"{r.title} |"
        )
    family = None
    for r in rules:
        if r.family != family:
            family = r.family
            lines += ["", f"## {family.capitalize()}"]
        types = (
            ", ".join(f"`{t}`" for t in sorted(r.types))
            if r.types
            else "every resource"
            if r.kind == "resource"
            else "the whole stack"
        )
        lines += [
            "",
            f"### {r.id}",
            "",
            f"**{r.title}**",
            "",
            f"- Severity: {r.severity}; default enforcement: {r.enforcement}; scope: {r.kind}.",
            f"- Applies to: {types}.",
            f"- Why: {r.rationale}",
            f"- Fix: {r.fix}",
            f"- Docs: <{r.docs}>",
        ]
    return "\n".join(lines) + "\n"


def generated_files() -> dict[Path, str]:
    files = {DOCS_PAGE: render_docs()}
    for env in ENVIRONMENTS:
        files[CONFIG_DIR / f"{env}.json"] = render_config(env)
    return files


# --- CLI ---------------------------------------------------------------------------------------------------------

# `maestro policy ...` (maestro/cli.py mounts it).
app = typer.Typer(help="Maestro's policy pack, offline over stacks evaluated under mocks.", no_args_is_help=True)


@app.command()
def check(
    stack: list[str] = typer.Option(None, "--stack", "-s", help="Stack(s) to check; default: every shipped stack."),  # noqa: B008
    stack_file: Path = typer.Option(None, help="A stack file to use instead of stacks/Pulumi.<stack>.yaml."),  # noqa: B008
    program: Path = typer.Option(None, help="A Pulumi program to evaluate instead of __main__.py (fixtures)."),  # noqa: B008
    env: str = typer.Option(None, help="Policy environment (dev|staging|prod); default: the stack name's prefix."),
    via: str = typer.Option("grpc", help="grpc: start the pack as the CLI does; inprocess: call its servicer."),
    json_out: Path = typer.Option(None, "--json", help="Write the findings as JSON to this file."),  # noqa: B008
    sarif_out: Path = typer.Option(None, "--sarif", help="Write SARIF 2.1.0 to this file."),  # noqa: B008
) -> None:
    """Check stacks; exit 1 on any mandatory violation."""
    stacks = stack or shipped_stacks()
    if not stacks:
        typer.echo("no stacks to check (stacks/Pulumi.*.yaml is empty)", err=True)
        raise typer.Exit(2)
    console = Console(width=200, emoji=False)
    findings: list[Finding] = []
    started = time.monotonic()
    server = PackServer() if via == "grpc" else None
    analyzer: Analyzer = server.__enter__() if server is not None else inprocess_analyzer()
    try:
        for name in stacks:
            try:
                resources, config = evaluate(name, stack_file, program)
            except Exception as exc:  # the program's own error (ConfigError names the key): report, exit 2
                why = escape(f"{type(exc).__name__}: {exc}")
                console.print(f"[bold red]{name}: the program failed under mocks:[/] {why}")
                raise typer.Exit(2) from exc
            level_env = env or environment_of(name)
            stack_findings = run_pack(analyzer, name, resources, level_env, config)
            console.print(
                f"[bold]{name}[/bold] ({level_env}): {len(resources)} resources, "
                f"{len(mandatory_violations(stack_findings))} mandatory violations, "
                f"{sum(f.status == 'unknown' for f in stack_findings)} unknown"
            )
            findings.extend(stack_findings)
    finally:
        if server is not None:
            server.__exit__()
    if findings:
        print_table(findings, console)
    if json_out is not None:
        json_out.write_text(to_json(findings))
    if sarif_out is not None:
        sarif_out.write_text(json.dumps(to_sarif(findings, pack().all_rules()), indent=2))
    bad = mandatory_violations(findings)
    console.print(
        f"{len(stacks)} stack(s) checked in {time.monotonic() - started:.1f}s via {via}: "
        f"{len(bad)} mandatory violation(s), {len(findings) - len(bad)} other finding(s)."
    )
    if bad:
        raise typer.Exit(1)


@app.command()
def generate(
    check_only: bool = typer.Option(False, "--check", help="Fail if a generated file is out of date."),
) -> None:
    """Write docs/policies.md and policies/config/<env>.json from the rules."""
    stale = []
    for path, text in generated_files().items():
        if path.is_file() and path.read_text() == text:
            continue
        stale.append(path)
        if not check_only:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        typer.echo(f"{'stale' if check_only else 'wrote'}: {path.relative_to(ROOT)}")
    if check_only and stale:
        raise typer.Exit(1)


@app.command()
def info() -> None:
    """Start the pack as the CLI does and list the policies it announces (GetAnalyzerInfo)."""
    with PackServer() as stub:
        analyzer_info = stub.GetAnalyzerInfo(empty_pb2.Empty())
        plugin = stub.GetPluginInfo(empty_pb2.Empty())
    typer.echo(f"{analyzer_info.name} (pulumi-policy {plugin.version}): {len(analyzer_info.policies)} policies")
    for p in analyzer_info.policies:
        typer.echo(f"  {p.name}  {_LEVEL.get(p.enforcementLevel)}  {p.description}")
