"""Latency added by the WAF: the same nginx edge (the nginx_waf role's files) with ModSecurity on and off.

Run with `make bench-waf` (or `.venv/bin/python -m bench waf`). Writes docs/benchmarks/waf.json and
docs/benchmarks/waf.md. Everything runs on loopback: a fixed-response nginx stands in for the API (so the upstream
adds almost nothing and costs no Python), the role is rendered twice (nginx_waf_mode blocking / off) and driven by
wrk at fixed concurrency over kept-alive HTTPS connections. Each case runs several times; the figures are medians.
"""

# ruff: noqa: S603, S607 - a benchmark driver: it runs fixed local programs (nginx, wrk, pgrep, dpkg-query)
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from bench import report
from tests.ansible.nginx_waf.edge import NGINX, Edge, running_edge, wait_for_port
from tests.servers import free_port

TARGET_P99_OVERHEAD_MS = 2.0
# A realistic create-model body (~1 KiB of JSON with free text), inspected by the JSON body processor.
POST_BODY = json.dumps(
    {
        "name": "churn-predictor",
        "description": "Gradient boosting (500 trees, depth 6) trained on 18 months of billing events; "
        "selects the customers most likely to leave next quarter. Owner: risk analytics. " * 4,
        "tags": [{"key": f"k{i}", "value": f"value {i}"} for i in range(10)],
    }
)
UPSTREAM_CONF = """
worker_processes 1;
pid {root}/upstream.pid;
error_log {root}/upstream-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type application/json;
            return 200 '{{"models": [], "next_page_token": null}}';
        }}
    }}
}}
"""
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@contextlib.contextmanager
def fixed_response_upstream() -> Iterator[int]:
    """A one-worker nginx answering every request with a small JSON document; always stopped."""
    root = Path(tempfile.mkdtemp(prefix="maestro-waf-upstream-"))
    port = free_port()
    (root / "nginx.conf").write_text(UPSTREAM_CONF.format(root=root, port=port))
    process = subprocess.Popen(
        [
            str(NGINX),
            "-p",
            str(root),
            "-c",
            str(root / "nginx.conf"),
            "-e",
            str(root / "error.log"),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def _to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", value.strip())
    if not match:
        raise ValueError(f"unexpected wrk latency figure {value!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> dict[str, float]:
    """P50/P99 (ms), requests/s and non-2xx count from `wrk --latency` output."""
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, flags=re.MULTILINE))
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, flags=re.MULTILINE)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    total = re.search(r"^\s+(\d+) requests in", output, flags=re.MULTILINE)
    if "50" not in percentiles or "99" not in percentiles or rps is None or total is None:
        raise ValueError(f"could not parse wrk output:\n{output}")
    return {
        "p50_ms": _to_ms(percentiles["50"]),
        "p99_ms": _to_ms(percentiles["99"]),
        "requests_per_second": float(rps.group(1)),
        "requests": float(total.group(1)),
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": float(sum(int(g) for g in errors.groups())) if errors else 0.0,
    }


def worker_cpu_seconds(master_pid: int) -> float:
    """User + system CPU seconds used so far by the worker processes of an nginx master."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # Fields after the parenthesised command name: state ppid ... utime(14) stime(15), 1-based overall.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == master_pid:
                total += int(fields[11]) + int(fields[12])
    return total / ticks


def wrk_command(url: str, *, concurrency: int, duration_s: int, script: Path | None) -> list[str]:
    threads = min(concurrency, 2)
    cmd = ["wrk", "--latency", "-t", str(threads), "-c", str(concurrency), "-d", f"{duration_s}s"]
    cmd += ["-H", "Accept: application/json", "-H", "User-Agent: maestro-bench/1"]
    if script is not None:
        cmd += ["-s", str(script)]
    return [*cmd, url]


def run_once(
    url: str, *, concurrency: int, duration_s: int, script: Path | None, master_pid: int | None
) -> dict[str, float]:
    """One wrk run; with master_pid, also the nginx workers' CPU time per request."""
    cmd = wrk_command(url, concurrency=concurrency, duration_s=duration_s, script=script)
    cpu_before = worker_cpu_seconds(master_pid) if master_pid else 0.0
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 60, check=True)
    sample = parse_wrk(result.stdout)
    if master_pid:
        sample["cpu_ms_per_request"] = (worker_cpu_seconds(master_pid) - cpu_before) * 1000 / sample["requests"]
    if sample["non_2xx"]:
        # A refused request means the WAF blocked the benchmark's own traffic: the comparison would be meaningless.
        raise RuntimeError(f"{url}: non-2xx responses:\n{result.stdout}")
    return sample


def summarize(
    name: str, cmd: list[str], concurrency: int, duration_s: int, samples: list[dict[str, float]]
) -> dict[str, Any]:
    printable = " ".join(c if " " not in c else repr(c) for c in cmd)
    case: dict[str, Any] = {
        "name": name,
        "concurrency": concurrency,
        "runs": len(samples),
        "duration_s_per_run": duration_s,
        "p50_ms": round(statistics.median(s["p50_ms"] for s in samples), 3),
        "p99_ms": round(statistics.median(s["p99_ms"] for s in samples), 3),
        "p99_ms_best_run": round(min(s["p99_ms"] for s in samples), 3),
        "p99_ms_worst_run": round(max(s["p99_ms"] for s in samples), 3),
        "requests_per_second": round(statistics.median(s["requests_per_second"] for s in samples), 1),
        "socket_errors_total": int(sum(s["socket_errors"] for s in samples)),
        "samples": samples,
        "command": printable,
    }
    if all("cpu_ms_per_request" in s for s in samples):
        case["cpu_ms_per_request"] = round(statistics.median(s["cpu_ms_per_request"] for s in samples), 3)
    print(
        f"  {name:<26} c={concurrency:<3} P50 {case['p50_ms']:7.3f} ms  P99 {case['p99_ms']:7.3f} ms  "
        f"{case['requests_per_second']:9.1f} req/s  cpu/req {case.get('cpu_ms_per_request', '-')} ms",
        flush=True,
    )
    return case


def use_debian_stock_rules(edge: Edge) -> None:
    """Reference point: the same edge loading Debian's stock ModSecurity file and CRS setup (paranoia level 1,
    DetectionOnly, so every rule is evaluated and nothing blocks) instead of Maestro's. docs/architecture.md's "0.9 ms
    of CPU per request at PL1" was measured with this configuration; comparing with it separates the cost of Maestro's
    choices from the state of the machine at the time of the run."""
    assert edge.process is not None
    # Debian's file as shipped, except that its audit log and unicode map point into the scratch directory.
    stock = Path("/etc/nginx/modsecurity.conf").read_text()
    stock = stock.replace("/var/log/nginx/modsec_audit.log", str(edge.root / "log" / "stock_audit.log"))
    stock = stock.replace("SecUnicodeMapFile unicode.mapping", "SecUnicodeMapFile /etc/nginx/unicode.mapping")
    stock_file = edge.config_dir / "maestro-waf" / "debian-modsecurity.conf"
    stock_file.write_text(stock)
    (edge.config_dir / "maestro-waf" / "rules.conf").write_text(
        f"Include {stock_file}\n"
        "Include /etc/modsecurity/crs/crs-setup.conf\n"
        "Include /usr/share/modsecurity-crs/rules/*.conf\n"
    )
    edge.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 120
    # The reload is done when the master has replaced its workers (new pids).
    old = set(_children(edge.process.pid))
    while time.monotonic() < deadline:
        current = set(_children(edge.process.pid))
        if current and not current & old:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the reference edge did not reload: {edge.error_log.read_text()[-2000:]}")


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def machine() -> dict[str, Any]:
    """The shared machine description, plus the OS and the versions of the packages the edge runs."""

    def pkg(name: str) -> str:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True, check=False)
        return out.stdout.strip() or "not installed"

    return {
        **report.machine(),
        "os": platform.freedesktop_os_release().get("PRETTY_NAME", "unknown"),
        "packages": {
            p: pkg(p) for p in ("nginx", "libmodsecurity3", "libnginx-mod-http-modsecurity", "modsecurity-crs", "wrk")
        },
        "note": "Shared 2-core machine: wrk, the edge and the upstream all run on the same cores as other work.",
    }


def benchmark(*, runs: int, duration_s: int, concurrencies: list[int]) -> dict[str, Any]:
    started = dt.datetime.now(dt.UTC)
    env_machine = machine()
    cases: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="maestro-waf-bench-") as scratch:
        post_script = Path(scratch) / "post.lua"
        post_script.write_text(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(POST_BODY)}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        with contextlib.ExitStack() as stack:
            upstream = stack.enter_context(fixed_response_upstream())
            print("rendering the nginx_waf role 3 times: off, blocking, stock-CRS reference", flush=True)
            edges = {
                "waf-off": stack.enter_context(running_edge(upstream, nginx_waf_mode="off")),
                "waf-on": stack.enter_context(running_edge(upstream, nginx_waf_mode="blocking")),
                "debian-stock-crs": stack.enter_context(running_edge(upstream, nginx_waf_mode="blocking")),
            }
            use_debian_stock_rules(edges["debian-stock-crs"])
            for c in concurrencies:
                direct_url = f"http://127.0.0.1:{upstream}/v1/models?page_size=50"
                direct = [
                    run_once(direct_url, concurrency=c, duration_s=duration_s, script=None, master_pid=None)
                    for _ in range(runs)
                ]
                cmd = wrk_command(direct_url, concurrency=c, duration_s=duration_s, script=None)
                cases.append(summarize("upstream-direct-get", cmd, c, duration_s, direct))
                for request, path, script in (
                    ("get", "/v1/models?page_size=50", None),
                    ("post-json", "/v1/models", post_script),
                ):
                    samples: dict[str, list[dict[str, float]]] = {label: [] for label in edges}
                    # Interleave on and off runs so that load from elsewhere on the machine hits both alike.
                    for _ in range(runs):
                        for label, edge in edges.items():
                            assert edge.process is not None
                            url = f"https://127.0.0.1:{edge.https_port}{path}"
                            samples[label].append(
                                run_once(
                                    url,
                                    concurrency=c,
                                    duration_s=duration_s,
                                    script=script,
                                    master_pid=edge.process.pid,
                                )
                            )
                    for label, edge in edges.items():
                        url = f"https://127.0.0.1:{edge.https_port}{path}"
                        cmd = wrk_command(url, concurrency=c, duration_s=duration_s, script=script)
                        cases.append(summarize(f"edge-{label}-{request}", cmd, c, duration_s, samples[label]))
    env_machine["load_average_at_end"] = report.load_average()
    by_name = {(case["name"], case["concurrency"]): case for case in cases}
    overhead = []
    reference: list[dict[str, Any]] = []
    for c in concurrencies:
        for request in ("get", "post-json"):
            on, off = by_name[(f"edge-waf-on-{request}", c)], by_name[(f"edge-waf-off-{request}", c)]
            p99 = round(on["p99_ms"] - off["p99_ms"], 3)
            overhead.append(
                {
                    "request": request,
                    "concurrency": c,
                    "p50_ms": round(on["p50_ms"] - off["p50_ms"], 3),
                    "p99_ms": p99,
                    "throughput_ratio": round(on["requests_per_second"] / off["requests_per_second"], 3),
                    "cpu_ms_per_request": round(on["cpu_ms_per_request"] - off["cpu_ms_per_request"], 3),
                    "target_p99_ms": TARGET_P99_OVERHEAD_MS,
                    "meets_target": p99 < TARGET_P99_OVERHEAD_MS,
                }
            )
    for request in ("get", "post-json"):
        on = by_name[(f"edge-waf-on-{request}", concurrencies[0])]
        stock = by_name[(f"edge-debian-stock-crs-{request}", concurrencies[0])]
        reference.append(
            {
                "request": request,
                "concurrency": concurrencies[0],
                "maestro_cpu_ms_per_request": on["cpu_ms_per_request"],
                "debian_stock_crs_cpu_ms_per_request": stock["cpu_ms_per_request"],
                "ratio": round(on["cpu_ms_per_request"] / stock["cpu_ms_per_request"], 2),
            }
        )
    return {
        "benchmark": "waf-latency",
        "date": started.isoformat(timespec="seconds"),
        "command": "make bench-waf",
        "settings": {
            "runs_per_case": runs,
            "duration_s_per_run": duration_s,
            "concurrencies": concurrencies,
            "paranoia_level": 2,
            "tls": "TLS 1.3, kept-alive connections (wrk reuses them)",
            "upstream": "nginx returning a fixed 41-byte JSON document (no application cost)",
            "post_body_bytes": len(POST_BODY.encode()),
        },
        "machine": env_machine,
        "cases": cases,
        "overhead": overhead,
        "reference_debian_stock_crs": reference,
    }


def with_shared_shape(result: dict[str, Any]) -> dict[str, Any]:
    """Give every case the fields all benchmark reports share (bench/report.py): figures with units, the
    date and the machine; the case's `command` is the wrk line that measured it."""
    for c in result["cases"]:
        figures: dict[str, tuple[float | int | None, str]] = {
            "p50": (c["p50_ms"], "ms"),
            "p99": (c["p99_ms"], "ms"),
            "throughput": (c["requests_per_second"], "requests/s"),
            "cpu_per_request": (c.get("cpu_ms_per_request"), "ms"),
        }
        shaped = report.case(c["name"], figures, command=c["command"], date=result["date"], machine=result["machine"])
        c.update({k: shaped[k] for k in ("figures", "date", "machine")})
    return result


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        "# WAF latency: nginx + ModSecurity + OWASP CRS on the Maestro edge",
        "",
        "Generated by `make bench-waf` (bench/waf.py); do not edit by hand. Raw figures: [waf.json](waf.json).",
        "",
        f"- Date: {result['date']}",
        f"- Machine: {m['cpu']}, {m['cpus']} cores, {m['memory_gib']} GiB, kernel {m['kernel']}, {m['os']}; "
        f"load average at start {m['load_average_at_start']}, at end {m['load_average_at_end']}. {m['note']}",
        "- Packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        f"- Method: the nginx_waf role rendered three times (nginx_waf_mode `off`, `blocking` at paranoia level "
        f"{result['settings']['paranoia_level']}, and `blocking` with Debian's stock ModSecurity file and CRS setup "
        "as a reference), same nginx, same TLS, same upstream; wrk at fixed concurrency over "
        f"kept-alive HTTPS connections, {result['settings']['runs_per_case']} runs of "
        f"{result['settings']['duration_s_per_run']} s per case, median of the runs. "
        f"Upstream: {result['settings']['upstream']}. "
        f"POST body: {result['settings']['post_body_bytes']} bytes of JSON.",
        "",
        "## Overhead of the WAF (ModSecurity on minus off)",
        "",
        "| request | concurrency | P50 added | P99 added | worker CPU added per request | throughput on/off "
        "| P99 target | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in result["overhead"]:
        lines.append(
            f"| {o['request']} | {o['concurrency']} | {o['p50_ms']:.3f} ms | {o['p99_ms']:.3f} ms | "
            f"{o['cpu_ms_per_request']:.3f} ms | {o['throughput_ratio']:.2f} | < {o['target_p99_ms']:.0f} ms | "
            f"{'yes' if o['meets_target'] else 'no'} |"
        )
    lines += [
        "",
        "## Maestro's rules compared with Debian's stock CRS (same machine, same moment)",
        "",
        "| request | concurrency | Maestro (PL2 + exclusions) CPU/request | Debian stock CRS (PL1) CPU/request "
        "| ratio |",
        "|---|---|---|---|---|",
    ]
    for r in result["reference_debian_stock_crs"]:
        lines.append(
            f"| {r['request']} | {r['concurrency']} | {r['maestro_cpu_ms_per_request']:.3f} ms | "
            f"{r['debian_stock_crs_cpu_ms_per_request']:.3f} ms | {r['ratio']:.2f} |"
        )
    lines += [
        "",
        "## Cases",
        "",
        "| case | concurrency | P50 | P99 (median) | P99 (best / worst run) | req/s | worker CPU/request "
        "| wrk socket errors | command |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in result["cases"]:
        lines.append(
            f"| {c['name']} | {c['concurrency']} | {c['p50_ms']:.3f} ms | {c['p99_ms']:.3f} ms | "
            f"{c['p99_ms_best_run']:.3f} / {c['p99_ms_worst_run']:.3f} ms | {c['requests_per_second']:.0f} | "
            f"{str(c['cpu_ms_per_request']) + ' ms' if 'cpu_ms_per_request' in c else '-'} | "
            f"{c['socket_errors_total']} | `{c['command']}` |"
        )
    lines += [
        "",
        "## Reading the numbers",
        "",
        "- Worker CPU per request is measured from /proc (user + system time of the edge's nginx workers during "
        "the runs, divided by the requests served): unlike latency, it barely depends on what else the machine "
        "is doing, so it is the stable measure of the WAF's cost.",
        "- On and off runs are interleaved, so load from other work on the shared machine hits both alike; "
        "P99 on a loaded 2-core machine is dominated by scheduling delays (see the direct-upstream P99).",
        "- At concurrency 1 the difference is the per-request CPU cost of ModSecurity and the CRS (parsing, "
        "transformations, regular expressions), which is what a client sees when the edge is not saturated.",
        "- At higher concurrency on 2 shared cores the edge becomes CPU-bound and queueing adds to both P50 and P99: "
        "the throughput ratio shows how much capacity the WAF takes. Size the edge from that ratio "
        '(docs/waf.md, "Capacity").',
        "- The URL in the commands is the loopback port of that run; rerun `make bench-waf` to reproduce.",
        "",
    ]
    return "\n".join(lines)


def main(
    runs: Annotated[int, typer.Option(help="Runs per case (the median is reported).")] = 5,
    duration: Annotated[int, typer.Option(help="Seconds per run.")] = 5,
    concurrency: Annotated[
        list[int] | None, typer.Option(help="wrk connections (repeatable; default 1 and 8).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Directory for waf.json and waf.md.")] = report.OUT_DIR,
) -> None:
    """Latency added by the WAF (P50/P99, ModSecurity on vs off); writes docs/benchmarks/waf.{json,md}."""
    if shutil.which("wrk") is None:
        raise SystemExit("bench-waf needs wrk (Debian package wrk): run `make bootstrap-test`")
    result = benchmark(runs=runs, duration_s=duration, concurrencies=concurrency or [1, 8])
    report.write("waf", with_shared_shape(result), markdown(result), out)
    print(f"wrote {out / 'waf.json'} and {out / 'waf.md'}")
