"""Fast checks of the nginx_waf role's contract (no servers): every default is declared and documented."""

from __future__ import annotations

import re

import yaml

from maestro.paths import ROOT

ROLE = ROOT / "ansible" / "roles" / "nginx_waf"
_VAR = re.compile(r"^(nginx_waf_\w+):")


def undocumented_defaults(defaults_text: str) -> list[str]:
    """Top-level defaults without a comment line directly above them (blank lines end a comment block)."""
    lines = defaults_text.splitlines()
    missing = []
    for i, line in enumerate(lines):
        match = _VAR.match(line)
        if match and (i == 0 or not lines[i - 1].startswith("#")):
            missing.append(match.group(1))
    return missing


def declared_options() -> set[str]:
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())
    return set(spec["argument_specs"]["main"]["options"])


def test_every_default_has_a_comment_above_it() -> None:
    assert undocumented_defaults((ROLE / "defaults" / "main.yml").read_text()) == []


def test_the_comment_check_finds_an_undocumented_default() -> None:
    sample = "# Documented.\nnginx_waf_a: 1\n\nnginx_waf_b: 2\n# Also documented.\nnginx_waf_c: 3\n"
    assert undocumented_defaults(sample) == ["nginx_waf_b"]


def test_every_default_is_declared_in_argument_specs() -> None:
    defaults = set(yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()))
    assert defaults - declared_options() == set()


def test_required_inputs_have_no_default() -> None:
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    required = {name for name, option in spec.items() if option.get("required")}
    defaults = set(yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()))
    assert required == {"nginx_waf_upstream_hosts", "nginx_waf_server_name"}
    assert required & defaults == set()


def test_old_tls_versions_cannot_be_configured() -> None:
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert spec["nginx_waf_tls_protocols"]["choices"] == ["TLSv1.2", "TLSv1.3"]


def test_production_defaults_block() -> None:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert defaults["nginx_waf_mode"] == "blocking"
    assert defaults["nginx_waf_tls_self_signed"] is False
    assert defaults["nginx_waf_tls_protocols"] == ["TLSv1.2", "TLSv1.3"]
