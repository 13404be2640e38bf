"""The offline evaluation harness: what it records, secrets, URNs, repeatability, unmocked invokes."""

from pathlib import Path

import pytest

from maestro.offline import mockrun

# A Pulumi program evaluated under mocks, like the stack tests (`make test-stacks`); the SDK's gRPC worker threads
# leave event loops unclosed, which the garbage collector reports at an arbitrary later test.
pytestmark = [pytest.mark.stacks, pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]

PROGRAM = Path(__file__).parent / "fixtures" / "program" / "__main__.py"


def _run(env: str) -> mockrun.RecordedResources:
    return mockrun.evaluate_config("unit", {"maestro:environment": env}, program=PROGRAM)


def test_records_type_name_parent_and_camelcase_inputs() -> None:
    resources = _run("dev")
    box = resources.named("box")
    secret = resources.named("box-secret")
    assert box.type == "maestro:test:Box" and not box.custom
    assert secret.parent == box.urn
    assert secret.urn == "urn:pulumi:unit::maestro::maestro:test:Box$kubernetes:core/v1:Secret::box-secret"
    # The engine's view: camelCase keys and the apiVersion/kind the SDK adds.
    assert set(secret.inputs) >= {"stringData", "metadata", "apiVersion", "kind"}
    assert resources.named("pw").urn == "urn:pulumi:unit::maestro::random:index/randomPassword:RandomPassword::pw"


def test_secrets_stay_recognisable() -> None:
    resources = _run("dev")
    data = resources.named("box-secret").inputs["stringData"]
    assert mockrun.is_secret(data)
    assert mockrun.unwrap_secret(data)["plain"] == "x"
    assert not mockrun.is_secret(resources.named("box-secret").inputs["metadata"])
    assert mockrun.is_secret(resources.outputs["password"])
    assert resources.outputs["environment"] == "dev"


def test_evaluations_are_independent() -> None:
    first, second = _run("one"), _run("two")
    assert first.outputs["environment"] == "one" and second.outputs["environment"] == "two"
    assert [r.urn for r in first] == [r.urn for r in second]


def test_unmocked_invoke_fails_loudly() -> None:
    from pulumi.runtime.mocks import MockCallArgs

    mocks = mockrun.MaestroMocks()
    with pytest.raises(mockrun.UnmockedInvokeError, match="aws:foo/bar:baz"):
        mocks.call(MockCallArgs(token="aws:foo/bar:baz", args={}, provider=""))
    result, _ = mocks.call(MockCallArgs(token="aws:index/getCallerIdentity:getCallerIdentity", args={}, provider=""))
    assert result["accountId"] == mockrun.MOCK_ACCOUNT


def test_stack_file_config_is_stringified_and_secure_values_are_secret(tmp_path: Path) -> None:
    f = tmp_path / "Pulumi.x.yaml"
    f.write_text(
        "config:\n  maestro:environment: dev\n"
        "  maestro:postgres:\n    instances: 3\n"
        "  maestro:token:\n    secure: AAE=\n"
    )
    config, secret_keys = mockrun.load_stack_config(f)
    assert config["maestro:environment"] == "dev"
    assert config["maestro:postgres"] == '{"instances": 3}'
    assert secret_keys == ["maestro:token"] and config["maestro:token"] == "mock-secret"


def test_walk_tree_nests_children() -> None:
    tree = [(depth, r.name) for depth, r in mockrun.walk_tree(_run("dev"))]
    assert (0, "box") in tree and (1, "box-secret") in tree


def test_preview_renders_tree_counts_and_hides_secrets() -> None:
    from maestro.offline.preview import render

    text = render(_run("dev"))
    assert "maestro:test:Box  box  <- (stack)" in text
    assert "  kubernetes:core/v1:Secret  box-secret  <- box" in text
    assert "random:index/randomPassword:RandomPassword  1" in text
    assert "password: [secret]" in text and "M0ck" not in text


# A component whose children get a label from the component's transform (or legacy transformation), one level
# further down too; a resource outside it; a protected child whose input comes from another resource.
TRANSFORM_PROGRAM = """
import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

OPTION = {option!r}


def label(args):
    if not args.type_.startswith("kubernetes:"):
        return None
    metadata = args.props["metadata"]
    labels = {{"owner": "me", **(metadata.get("labels") or {{}})}}
    props = {{**args.props, "metadata": {{**metadata, "labels": labels}}}}
    cls = pulumi.ResourceTransformResult if OPTION == "transforms" else pulumi.ResourceTransformationResult
    return cls(props=props, opts=args.opts)


class Inner(pulumi.ComponentResource):
    def __init__(self, name, opts):
        super().__init__("maestro:test:Inner", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        k8s.core.v1.ConfigMap(f"{{name}}-map", metadata={{"labels": {{"keep": "1"}}}}, opts=child)
        self.register_outputs({{}})


class Outer(pulumi.ComponentResource):
    def __init__(self, name, opts):
        super().__init__("maestro:test:Outer", name, None, opts)
        pw = random.RandomPassword(f"{{name}}-pw", length=8, opts=pulumi.ResourceOptions(parent=self))
        k8s.core.v1.Secret(
            f"{{name}}-secret",
            metadata={{"name": "s"}},
            string_data={{"pw": pw.result}},
            opts=pulumi.ResourceOptions(parent=self, protect=True, ignore_changes=["data"]),
        )
        Inner(f"{{name}}-inner", pulumi.ResourceOptions(parent=self))
        self.register_outputs({{}})


Outer("outer", pulumi.ResourceOptions(**{{OPTION: [label]}}))
k8s.core.v1.ConfigMap("outside", metadata={{"name": "outside"}})
"""


def _transform_run(tmp_path: Path, option: str) -> mockrun.RecordedResources:
    program = tmp_path / option / "__main__.py"
    program.parent.mkdir()
    program.write_text(TRANSFORM_PROGRAM.format(option=option))
    return mockrun.evaluate_config("unit", {}, program=program)


def test_transforms_run_as_the_engine_runs_them_like_legacy_transformations(tmp_path: Path) -> None:
    transforms, legacy = _transform_run(tmp_path, "transforms"), _transform_run(tmp_path, "transformations")
    labels = {r.name: mockrun.plain(r.inputs)["metadata"].get("labels") for r in transforms if "metadata" in r.inputs}
    # The component's children and grandchildren get the label; the resource outside it does not.
    assert labels == {"outer-secret": {"owner": "me"}, "outer-inner-map": {"owner": "me", "keep": "1"}, "outside": None}
    assert transforms.named("outer-secret").outputs["metadata"]["labels"] == {"owner": "me"}
    # Exactly what the SDK's legacy transformations produce for the same program.
    assert [(r.urn, r.inputs) for r in transforms] == [(r.urn, r.inputs) for r in legacy]


def test_options_and_property_dependencies_are_recorded(tmp_path: Path) -> None:
    resources = _transform_run(tmp_path, "transforms")
    secret, password = resources.named("outer-secret"), resources.named("outer-pw")
    # The SDK's Secret class adds its own additionalSecretOutputs.
    assert secret.options == {
        "protect": True,
        "ignoreChanges": ["data"],
        "additionalSecretOutputs": ["data", "stringData"],
    }
    assert resources.named("outside").options == {}
    assert secret.property_dependencies == {"stringData": (password.urn,)}
    assert password.property_dependencies == {}
