#!/usr/bin/python3
"""Maestro WAF metrics: nginx's WAF access log and ModSecurity's JSON audit log as node_exporter textfile metrics.

Installed by the nginx_waf role as /usr/local/bin/maestro-waf-metrics and run every minute by
maestro-waf-metrics.timer as an unprivileged user in the adm group. Standard library only (Debian's python3).

Each run reads what the logs gained since the previous run, adds it to running totals kept in a state file, and
writes the metrics file atomically (temporary file in the same directory, then rename). The metric names are a
contract (docs/interfaces.md); docs/waf.md says what is counted.

Counters stay monotonic across log rotation and restarts: the state file remembers, per log, the inode, the offset
read up to and the last bytes before that offset (a fingerprint). A file that was renamed away (logrotate `create`)
is finished from `<log>.1` when that file still has the same inode; a file that was truncated in place
(`copytruncate`) is finished from `<log>.1` when its bytes before the old offset match the fingerprint. A line that
does not parse is skipped and counted in maestro_waf_log_lines_skipped_total, never fatal.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATE_VERSION = 1
# How many bytes before the read offset identify a log file's content (enough to cover a request id).
FINGERPRINT_BYTES = 64
# Bytes read at a time from a log.
READ_CHUNK = 1 << 20
# The nginx log format the role defines for this tailer (log_format maestro_waf_metrics): "$msec $status $request_id".
ACCESS_LINE = re.compile(rb"^\d+\.\d{3} \d{3} [0-9a-f]{32}$")
# Rules whose action refuses the request in the role's configuration: CRS's inbound and outbound anomaly blocking
# evaluation and the engine rules of modsecurity.conf that deny what cannot be inspected (200002 unparsable body,
# 200003/200004 multipart, 200005 internal error, 200007 too many arguments, 200010 body without Content-Type).
DEFAULT_BLOCKING_RULE_IDS = frozenset({"949110", "959100", "200002", "200003", "200004", "200005", "200007", "200010"})
SEC_RULE_ENGINE = re.compile(r"^\s*SecRuleEngine\s+(\S+)", re.IGNORECASE)
INCLUDE = re.compile(r"^\s*Include(?:Optional)?\s+(\S+)", re.IGNORECASE)


# --- Parsing one line -------------------------------------------------------------------------------------------


def parse_access_line(line: bytes) -> bool:
    """True for a well-formed line of the maestro_waf_metrics access log (one request), False for a garbled one."""
    return ACCESS_LINE.match(line.rstrip(b"\r")) is not None


def parse_audit_line(line: bytes, blocking_rule_ids: frozenset[str]) -> bool | None:
    """Whether one JSON audit log entry is a request the WAF intercepted; None when the line is garbled.

    The audit log also holds transactions ModSecurity only logged: the API's own 4xx/5xx (an RBAC 403 among them)
    and requests that matched rules without reaching the threshold. Intercepted means: the engine was enabled
    (not DetectionOnly), the response was an error, and a rule that refuses requests matched.
    """
    try:
        entry = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    transaction = entry.get("transaction") if isinstance(entry, dict) else None
    if not isinstance(transaction, dict):
        return None
    response = transaction.get("response")
    status = response.get("http_code") if isinstance(response, dict) else None
    if not isinstance(status, int) or isinstance(status, bool):
        return None
    messages = transaction.get("messages", [])
    if not isinstance(messages, list):
        return None
    producer = transaction.get("producer")
    engine = producer.get("secrules_engine") if isinstance(producer, dict) else None
    if engine != "Enabled" or status < 400:
        return False
    for message in messages:
        details = message.get("details") if isinstance(message, dict) else None
        if isinstance(details, dict) and str(details.get("ruleId", "")) in blocking_rule_ids:
            return True
    return False


def rule_engine_enabled(rules_file: Path) -> bool:
    """Whether the effective ModSecurity configuration ends with `SecRuleEngine On`.

    Follows Include directives in order (globs too, as ModSecurity does), so a later file overriding the engine
    setting wins. A missing or unreadable file, or no setting at all, counts as not enabled: the alert must fire
    rather than stay quiet.
    """
    return _engine_setting(rules_file, depth=0) is True


def _engine_setting(path: Path, *, depth: int) -> bool | None:
    """The last SecRuleEngine setting in a rules file and what it includes; None when it sets none."""
    if depth > 8:  # an Include loop
        return None
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    setting: bool | None = None
    for line in text.splitlines():
        engine = SEC_RULE_ENGINE.match(line)
        if engine:
            setting = engine.group(1).strip("\"'").lower() == "on"
            continue
        include = INCLUDE.match(line)
        if include:
            pattern = include.group(1).strip("\"'")
            if not os.path.isabs(pattern):
                pattern = str(path.parent / pattern)
            for included in sorted(glob.glob(pattern)):
                found = _engine_setting(Path(included), depth=depth + 1)
                if found is not None:
                    setting = found
    return setting


# --- Following a log across rotation ---------------------------------------------------------------------------


@dataclass
class Position:
    """Where the previous run stopped reading one log."""

    inode: int | None = None
    offset: int = 0
    fingerprint: str = ""  # hex of the FINGERPRINT_BYTES bytes before offset

    @classmethod
    def from_json(cls, data: Any) -> Position:
        if not isinstance(data, dict):
            return cls()
        inode = data.get("inode")
        offset = data.get("offset", 0)
        fingerprint = data.get("fingerprint", "")
        if not (inode is None or isinstance(inode, int)) or not isinstance(offset, int) or offset < 0:
            return cls()
        return cls(inode=inode, offset=offset, fingerprint=fingerprint if isinstance(fingerprint, str) else "")


def _fingerprint_at(f: Any, offset: int) -> str:
    start = max(0, offset - FINGERPRINT_BYTES)
    f.seek(start)
    return bytes(f.read(offset - start)).hex()


def _read_lines(f: Any, offset: int, consume: Callable[[bytes], None], *, to_eof: bool) -> int:
    """Pass each complete line from offset on to consume, in chunks (a day of audit log need not fit in memory);
    returns the offset after the last one. to_eof also passes a final partial line (the file was rotated away and
    will not grow any more)."""
    f.seek(offset)
    pending = b""
    position = offset
    while chunk := f.read(READ_CHUNK):
        position += len(chunk)
        *complete, pending = (pending + chunk).split(b"\n")
        for line in complete:
            if line:
                consume(line)
    if to_eof and pending:
        consume(pending)
        return position
    return position - len(pending)


def _same_content(path: Path, position: Position, *, by_inode: bool) -> bool:
    """Whether path is the file the position was taken in (same inode, or same bytes before the offset)."""
    try:
        with path.open("rb") as f:
            if by_inode:
                return os.fstat(f.fileno()).st_ino == position.inode
            size = os.fstat(f.fileno()).st_size
            return size >= position.offset and _fingerprint_at(f, position.offset) == position.fingerprint
    except OSError:
        return False


def _rotated_remainder(path: Path, position: Position, consume: Callable[[bytes], None], *, by_inode: bool) -> None:
    """Pass on the lines the previous file gained after the last run, from <log>.1 when that is the same file."""
    rotated = path.with_name(path.name + ".1")
    if position.inode is None or not _same_content(rotated, position, by_inode=by_inode):
        return
    with rotated.open("rb") as f:
        _read_lines(f, position.offset, consume, to_eof=True)


def follow(path: Path, position: Position, consume: Callable[[bytes], None]) -> Position:
    """Pass each line appended to the log at path since position (across a rotation) to consume; returns the
    position after them.

    Raises OSError when the log exists but cannot be read (the run must fail rather than report stale numbers).
    """
    try:
        f = path.open("rb")
    except FileNotFoundError:
        # Rotated away and not recreated yet: finish the old file if it is still there, start afresh next time.
        _rotated_remainder(path, position, consume, by_inode=True)
        return Position()
    with f:
        stat = os.fstat(f.fileno())
        start = 0
        if position.inode == stat.st_ino:
            if stat.st_size >= position.offset and _fingerprint_at(f, position.offset) == position.fingerprint:
                start = position.offset  # the same file, grown or unchanged
            else:
                # Truncated in place (copytruncate): the copy is <log>.1, recognised by its bytes.
                _rotated_remainder(path, position, consume, by_inode=False)
        elif position.inode is not None:
            # Renamed away (logrotate create) and reopened by nginx: the old inode is <log>.1.
            _rotated_remainder(path, position, consume, by_inode=True)
        offset = _read_lines(f, start, consume, to_eof=False)
        return Position(inode=stat.st_ino, offset=offset, fingerprint=_fingerprint_at(f, offset))


# --- State and output -------------------------------------------------------------------------------------------


@dataclass
class State:
    """Running totals and read positions, persisted between runs."""

    requests: int = 0
    blocked: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: {"access": 0, "audit": 0})
    access: Position = field(default_factory=Position)
    audit: Position = field(default_factory=Position)

    @classmethod
    def load(cls, path: Path) -> State:
        """The saved state; a fresh one when there is none. An unreadable state starts afresh (a counter reset,
        which Prometheus' rate() handles) rather than stopping the metrics for good."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            print(f"maestro-waf-metrics: state {path} unreadable ({exc}); starting afresh", file=sys.stderr)
            return cls()
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            print(f"maestro-waf-metrics: state {path} has an unknown format; starting afresh", file=sys.stderr)
            return cls()
        totals = data.get("totals", {})
        skipped = totals.get("skipped", {}) if isinstance(totals, dict) else {}

        def count(value: Any) -> int:
            return value if isinstance(value, int) and value >= 0 else 0

        return cls(
            requests=count(totals.get("requests")) if isinstance(totals, dict) else 0,
            blocked=count(totals.get("blocked")) if isinstance(totals, dict) else 0,
            skipped={
                "access": count(skipped.get("access") if isinstance(skipped, dict) else 0),
                "audit": count(skipped.get("audit") if isinstance(skipped, dict) else 0),
            },
            access=Position.from_json(data.get("access")),
            audit=Position.from_json(data.get("audit")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "totals": {"requests": self.requests, "blocked": self.blocked, "skipped": dict(self.skipped)},
            "access": vars(self.access),
            "audit": vars(self.audit),
        }


def write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    """Write a temporary file in the same directory, flush it to disk, then rename it over path."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _metric(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]) -> Iterator[str]:
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} {kind}"
    for labels, value in samples:
        yield f"{name}{labels} {value:.17g}" if isinstance(value, float) else f"{name}{labels} {value}"


def render_metrics(state: State, *, engine_enabled: bool, now: float) -> str:
    lines = [
        *_metric(
            "maestro_waf_requests_total",
            "counter",
            "Requests the edge's HTTPS server answered (WAF access log), since the tailer's state began.",
            [("", state.requests)],
        ),
        *_metric(
            "maestro_waf_blocked_requests_total",
            "counter",
            "Requests ModSecurity intercepted (JSON audit log), since the tailer's state began.",
            [("", state.blocked)],
        ),
        *_metric(
            "maestro_waf_rule_engine_enabled",
            "gauge",
            "1 when the effective ModSecurity configuration sets SecRuleEngine On, else 0.",
            [("", int(engine_enabled))],
        ),
        *_metric(
            "maestro_waf_log_lines_skipped_total",
            "counter",
            "Log lines the tailer could not parse and skipped, by log.",
            [(f'{{log="{log}"}}', state.skipped[log]) for log in ("access", "audit")],
        ),
        *_metric(
            "maestro_waf_metrics_last_update_timestamp_seconds",
            "gauge",
            "Unix time of the tailer's last successful run.",
            [("", float(now))],
        ),
    ]
    return "\n".join(lines) + "\n"


@dataclass
class Config:
    access_log: Path
    audit_log: Path
    rules_file: Path
    state_file: Path
    output: Path
    blocking_rule_ids: frozenset[str] = DEFAULT_BLOCKING_RULE_IDS


def run_once(config: Config, *, now: float | None = None) -> State:
    """One pass: read both logs, save the state, then write the metrics (a crash in between repeats nothing)."""
    state = State.load(config.state_file)

    def count_access(line: bytes) -> None:
        if parse_access_line(line):
            state.requests += 1
        else:
            state.skipped["access"] += 1

    def count_audit(line: bytes) -> None:
        blocked = parse_audit_line(line, config.blocking_rule_ids)
        if blocked is None:
            state.skipped["audit"] += 1
        elif blocked:
            state.blocked += 1

    state.access = follow(config.access_log, state.access, count_access)
    state.audit = follow(config.audit_log, state.audit, count_audit)
    write_atomically(config.state_file, json.dumps(state.to_json(), sort_keys=True) + "\n", mode=0o600)
    text = render_metrics(
        state, engine_enabled=rule_engine_enabled(config.rules_file), now=time.time() if now is None else now
    )
    write_atomically(config.output, text)
    return state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="maestro-waf-metrics", description=__doc__.splitlines()[0])
    parser.add_argument("--access-log", type=Path, required=True, help="nginx log in the maestro_waf_metrics format")
    parser.add_argument("--audit-log", type=Path, required=True, help="ModSecurity JSON audit log")
    parser.add_argument("--rules-file", type=Path, required=True, help="ModSecurity rules file nginx loads")
    parser.add_argument("--state-file", type=Path, required=True, help="where totals and read positions persist")
    parser.add_argument("--output", type=Path, required=True, help="the .prom file node_exporter reads")
    parser.add_argument(
        "--blocking-rule-id",
        action="append",
        dest="blocking_rule_ids",
        help="rule id whose match in an intercepted transaction counts it as blocked (repeat; default: the role's)",
    )
    args = parser.parse_args(argv)
    config = Config(
        access_log=args.access_log,
        audit_log=args.audit_log,
        rules_file=args.rules_file,
        state_file=args.state_file,
        output=args.output,
        blocking_rule_ids=frozenset(args.blocking_rule_ids or DEFAULT_BLOCKING_RULE_IDS),
    )
    try:
        run_once(config)
    except OSError as exc:
        # Nothing is written: the last-update timestamp stops moving and WafMetricsStale fires.
        print(f"maestro-waf-metrics: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
