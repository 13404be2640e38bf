"""The WAF log tailer without servers: line parsing, the engine setting, rotation, state and the metrics file.

The logs here are files the tests write; test_metrics.py runs the same script against a real nginx.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.ansible.nginx_waf.tailer import Parsed, counts, load_tailer, samples, value

T = load_tailer()
BLOCKING = T.DEFAULT_BLOCKING_RULE_IDS


def _audit(
    status: int, *rule_ids: str, engine: str = "Enabled", uid: str = "0123456789abcdef0123456789abcdef"
) -> bytes:
    """One audit log line shaped as libmodsecurity 3.0.9 writes it (parts A, H, Z)."""
    entry: dict[str, Any] = {
        "transaction": {
            "client_ip": "127.0.0.1",
            "time_stamp": "Sat Nov 28 11:39:39 2026",
            "unique_id": uid,
            "request": {"method": "GET", "http_version": 1.1, "uri": "/v1/x"},
            "response": {"http_code": status},
            "producer": {"modsecurity": "ModSecurity v3.0.9 (Linux)", "secrules_engine": engine},
            "messages": [{"message": "m", "details": {"ruleId": rule_id, "data": ""}} for rule_id in rule_ids],
        }
    }
    return json.dumps(entry).encode()


def _access(n: int, status: int = 200) -> bytes:
    """n access log lines, each with a fresh request id (as nginx's $request_id)."""
    return b"".join(b"1795866206.%03d %d %s\n" % (i % 1000, status, os.urandom(16).hex().encode()) for i in range(n))


# --- One line -------------------------------------------------------------------------------------------------------


def test_access_line_in_the_roles_format_counts() -> None:
    assert T.parse_access_line(b"1795866206.263 200 44c6509666f8b59dd76a6e879a62a806")
    assert T.parse_access_line(b"1795866206.263 403 44c6509666f8b59dd76a6e879a62a806\r")


@pytest.mark.parametrize(
    "line",
    [
        b"garbage",
        b"",
        b"1795866206.263 200",
        b'127.0.0.1 [2026-11-28T11:39:38+00:00] "GET /v1/ok" 200 22 0.028 0.028 "curl" da585f15ac516febaf41719b0a7fb05',
        b"1795866206.263 200 44c6509666f8b59dd76a6e879a62a806 extra",
        b"\xff\xfe\x00",
    ],
)
def test_garbled_access_line_does_not_count(line: bytes) -> None:
    assert not T.parse_access_line(line)


def test_intercepted_attack_is_blocked() -> None:
    assert T.parse_audit_line(_audit(403, "941100", "941110", "949110"), BLOCKING) is True


@pytest.mark.parametrize(("status", "rule_id"), [(400, "200002"), (415, "200010"), (400, "200007")])
def test_refused_uninspectable_request_is_blocked(status: int, rule_id: str) -> None:
    assert T.parse_audit_line(_audit(status, rule_id), BLOCKING) is True


def test_api_403_is_not_blocked() -> None:
    """An RBAC denial from the API is a relevant status, so it is in the audit log, without any rule match."""
    assert T.parse_audit_line(_audit(403), BLOCKING) is False


def test_api_403_with_warnings_below_the_threshold_is_not_blocked() -> None:
    assert T.parse_audit_line(_audit(403, "942110"), BLOCKING) is False


def test_api_500_is_not_blocked() -> None:
    assert T.parse_audit_line(_audit(500), BLOCKING) is False


def test_detection_only_is_never_blocked() -> None:
    """DetectionOnly logs the threshold rule but passes the request; the API's answer may still be an error."""
    assert T.parse_audit_line(_audit(403, "949110", engine="DetectionOnly"), BLOCKING) is False


def test_threshold_rule_on_a_passed_request_is_not_blocked() -> None:
    assert T.parse_audit_line(_audit(200, "949110"), BLOCKING) is False


def test_a_site_rule_counts_when_configured() -> None:
    assert T.parse_audit_line(_audit(403, "11001"), BLOCKING) is False
    assert T.parse_audit_line(_audit(403, "11001"), frozenset({"11001"})) is True


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b'{"transaction": ',
        b"[1, 2]",
        b'{"other": {}}',
        b'{"transaction": {"response": {}}}',
        b'{"transaction": {"response": {"http_code": "403"}}}',
        b'{"transaction": {"response": {"http_code": 403}, "messages": {}}}',
        b"\xff\xfe",
    ],
)
def test_garbled_audit_line_is_reported(line: bytes) -> None:
    assert T.parse_audit_line(line, BLOCKING) is None


# --- The engine setting ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "enabled"), [("On", True), ("DetectionOnly", False), ("Off", False)])
def test_engine_setting(tmp_path: Path, setting: str, enabled: bool) -> None:
    (tmp_path / "modsecurity.conf").write_text(f"# SecRuleEngine On in a comment\nSecRuleEngine {setting}\n")
    (tmp_path / "rules.conf").write_text(f"Include {tmp_path}/modsecurity.conf\n")
    assert T.rule_engine_enabled(tmp_path / "rules.conf") is enabled


def test_a_later_include_overrides_the_engine(tmp_path: Path) -> None:
    (tmp_path / "modsecurity.conf").write_text("SecRuleEngine On\n")
    (tmp_path / "crs").mkdir()
    (tmp_path / "crs" / "a.conf").write_text("SecRule ARGS foo id:1\n")
    (tmp_path / "crs" / "b.conf").write_text("SecRuleEngine DetectionOnly\n")
    rules = tmp_path / "rules.conf"
    rules.write_text("Include modsecurity.conf\nInclude crs/*.conf\n")
    assert T.rule_engine_enabled(rules) is False
    rules.write_text("Include crs/*.conf\nInclude modsecurity.conf\n")
    assert T.rule_engine_enabled(rules) is True


def test_missing_config_or_no_setting_is_not_enabled(tmp_path: Path) -> None:
    assert T.rule_engine_enabled(tmp_path / "absent.conf") is False
    (tmp_path / "rules.conf").write_text("SecRequestBodyAccess On\n")
    assert T.rule_engine_enabled(tmp_path / "rules.conf") is False


def test_include_loop_ends(tmp_path: Path) -> None:
    (tmp_path / "rules.conf").write_text("SecRuleEngine On\nInclude rules.conf\n")
    assert T.rule_engine_enabled(tmp_path / "rules.conf") is True


# --- Runs over files: rotation, state, output -----------------------------------------------------------------------


class Host:
    """The tailer's files in a scratch directory, and one run of it."""

    def __init__(self, root: Path) -> None:
        self.log = root / "log"
        self.log.mkdir()
        self.access = self.log / "waf-requests.log"
        self.audit = self.log / "modsec_audit.json"
        (root / "rules.conf").write_text("SecRuleEngine On\n")
        (root / "state").mkdir()
        (root / "textfile").mkdir()
        self.config = T.Config(
            access_log=self.access,
            audit_log=self.audit,
            rules_file=root / "rules.conf",
            state_file=root / "state" / "state.json",
            output=root / "textfile" / "maestro_waf.prom",
        )

    def append(self, path: Path, data: bytes) -> None:
        with path.open("ab") as f:
            f.write(data)

    def traffic(self, legitimate: int, attacks: int, api_403: int = 0) -> None:
        """What nginx and ModSecurity write for that many requests."""
        self.append(self.access, _access(legitimate + attacks + api_403))
        lines = [_audit(403, "941100", "949110", uid=os.urandom(16).hex()) for _ in range(attacks)]
        lines += [_audit(403, uid=os.urandom(16).hex()) for _ in range(api_403)]
        self.append(self.audit, b"".join(line + b"\n" for line in lines))

    def run(self, now: float = 1795866206.5) -> Parsed:
        T.run_once(self.config, now=now)
        return samples(self.config.output.read_text())

    def totals(self) -> tuple[int, int]:
        """Requests and blocked requests after one more run."""
        requests, blocked, _, _ = counts(self.run())
        return requests, blocked


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def test_counts_requests_and_blocks(host: Host) -> None:
    host.traffic(legitimate=7, attacks=3, api_403=2)
    parsed = host.run(now=1795866206.5)
    assert counts(parsed) == (12, 3, 0, 0)
    assert value(parsed, "maestro_waf_rule_engine_enabled") == 1
    assert value(parsed, "maestro_waf_metrics_last_update_timestamp_seconds") == 1795866206.5


def test_output_is_world_readable_and_written_through_a_rename(host: Host) -> None:
    host.traffic(legitimate=1, attacks=0)
    host.run()
    first = host.config.output.stat().st_ino
    host.run()
    assert oct(host.config.output.stat().st_mode & 0o777) == "0o644"
    assert host.config.output.stat().st_ino != first  # replaced, never rewritten in place
    assert sorted(p.name for p in host.config.output.parent.iterdir()) == ["maestro_waf.prom"]  # no temp left


def test_nothing_new_counts_nothing(host: Host) -> None:
    host.traffic(legitimate=2, attacks=1)
    assert host.totals() == (3, 1)
    assert host.totals() == (3, 1)


def test_missing_logs_are_zero_not_an_error(host: Host) -> None:
    assert host.totals() == (0, 0)


def test_a_partial_line_waits_for_its_end(host: Host) -> None:
    host.append(host.access, _access(2) + b"1795866206.100 20")
    assert host.totals() == (2, 0)
    host.append(host.access, b"0 0123456789abcdef0123456789abcdef\n")
    assert host.totals() == (3, 0)
    assert counts(host.run())[2] == 0  # no access log line skipped


def test_garbled_lines_are_skipped_and_counted(host: Host) -> None:
    host.traffic(legitimate=2, attacks=1)
    host.append(host.access, b"\x00\x01 garbage\n")
    host.append(host.audit, b'{"transaction": {"truncated\n')
    host.traffic(legitimate=1, attacks=1)
    assert counts(host.run()) == (5, 2, 1, 1)


def test_rename_rotation_finishes_the_old_file(host: Host) -> None:
    """logrotate `create`: the log is renamed to .1, lines still land in it until nginx reopens, then a new file."""
    host.traffic(legitimate=4, attacks=1)
    assert host.totals() == (5, 1)
    for path in (host.access, host.audit):
        path.rename(path.with_name(path.name + ".1"))
    host.append(host.access.with_name("waf-requests.log.1"), _access(2))  # written before the reopen
    host.traffic(legitimate=3, attacks=2)
    assert host.totals() == (12, 3)
    assert host.totals() == (12, 3)


def test_copytruncate_rotation_finishes_the_copy(host: Host) -> None:
    host.traffic(legitimate=4, attacks=1)
    assert host.totals() == (5, 1)
    host.traffic(legitimate=2, attacks=1)  # after the last run, before the copy
    for path in (host.access, host.audit):
        shutil.copyfile(path, path.with_name(path.name + ".1"))
        with path.open("r+b") as f:
            f.truncate(0)
    host.traffic(legitimate=1, attacks=0)
    assert host.totals() == (9, 2)


def test_copytruncate_then_growth_past_the_old_offset_is_detected(host: Host) -> None:
    """The new content is longer than what was read before: the fingerprint, not the size, tells it apart."""
    host.traffic(legitimate=2, attacks=0)
    assert host.totals() == (2, 0)
    shutil.copyfile(host.access, host.access.with_name(host.access.name + ".1"))
    host.access.write_bytes(b"")
    host.append(host.access, b"".join(b"1795866207.%03d 200 %032x\n" % (i, 10**6 + i) for i in range(5)))
    assert host.totals() == (7, 0)


def test_an_unrelated_old_file_is_not_read(host: Host) -> None:
    """A .1 from an earlier rotation (other inode, other bytes) must not be counted again."""
    host.append(host.access.with_name(host.access.name + ".1"), _access(50))
    host.traffic(legitimate=3, attacks=0)
    assert host.totals() == (3, 0)
    host.access.write_bytes(b"")  # truncated, but .1 is not its copy
    host.append(host.access, _access(1))
    assert host.totals() == (4, 0)


def test_a_log_that_disappears_and_returns(host: Host) -> None:
    host.traffic(legitimate=2, attacks=1)
    assert host.totals() == (3, 1)
    host.access.unlink()
    host.audit.unlink()
    assert host.totals() == (3, 1)
    host.traffic(legitimate=1, attacks=1)
    assert host.totals() == (5, 2)


def test_a_restart_continues_from_the_state(host: Host) -> None:
    host.traffic(legitimate=3, attacks=1)
    assert host.totals() == (4, 1)
    host.config.output.unlink()  # e.g. a reboot with the textfile directory on tmpfs
    fresh = T.State.load(host.config.state_file)  # what a new process reads
    assert (fresh.requests, fresh.blocked) == (4, 1)
    host.traffic(legitimate=1, attacks=1)
    assert host.totals() == (6, 2)


def test_a_corrupt_state_starts_afresh(host: Host, capsys: pytest.CaptureFixture[str]) -> None:
    host.traffic(legitimate=3, attacks=1)
    host.config.state_file.write_text("{not json")
    assert host.totals() == (4, 1)  # the whole current file, counted once
    assert "starting afresh" in capsys.readouterr().err
    assert host.totals() == (4, 1)


def test_an_unreadable_log_fails_the_run_and_keeps_the_old_metrics(host: Host) -> None:
    host.traffic(legitimate=1, attacks=0)
    assert T.main(_argv(host)) == 0
    before = host.config.output.read_text()
    host.access.unlink()
    host.access.mkdir()  # cannot be read as a file, even by root
    assert T.main(_argv(host)) == 1
    assert host.config.output.read_text() == before  # the timestamp stops: WafMetricsStale fires


def test_command_line_blocking_rule_ids(host: Host) -> None:
    host.append(host.audit, _audit(403, "11001") + b"\n")
    assert T.main([*_argv(host), "--blocking-rule-id=11001"]) == 0
    assert value(samples(host.config.output.read_text()), "maestro_waf_blocked_requests_total") == 1


def _argv(host: Host) -> list[str]:
    c = host.config
    return [
        *("--access-log", str(c.access_log), "--audit-log", str(c.audit_log), "--rules-file", str(c.rules_file)),
        *("--state-file", str(c.state_file), "--output", str(c.output)),
    ]


def test_lines_across_read_chunks(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    """Logs are read in chunks; a line split between two chunks is still one line."""
    monkeypatch.setattr(T, "READ_CHUNK", 7)
    host.traffic(legitimate=5, attacks=3, api_403=1)
    host.append(host.access, b"1795866206.100 20")  # partial, waits
    assert counts(host.run()) == (9, 3, 0, 0)
