"""The A/B page of `bench api run --baseline`: rendered from the machine description every benchmark shares."""

from __future__ import annotations

from bench.api import baseline, measure


def test_the_ab_page_renders_both_sides_and_the_verdict() -> None:
    side = {"rps": 1900.0, "p50_ms": 3.0, "p99_ms": 9.5, "errors": 0, "api_cpu_ms_per_request": 0.45}
    report = baseline.Comparison(
        label="ab",
        date="2026-12-03T12:00:00+00:00",
        baseline="508fedd",
        machine=measure.machine(),
        config={"api": {"workers": 2}, "wrk": "-t1 -c16", "repeats": 1, "order": "A B", "elapsed_s": 20},
        runs=[
            {
                "repeat": 1,
                "order": ["baseline", "working tree"],
                "load_before": [0.1],
                "load_after": [0.2],
                "baseline": {"rps": 2000.0},
                "working tree": {"rps": 1900.0},
            }
        ],
        medians={"baseline": side, "working tree": {**side, "rps": 1900.0}},
        ratio=0.95,
        paired_ratio=0.95,
        cpu_ratio=1.02,
        within_tolerance=True,
    )
    page = baseline.render_markdown(report, "--baseline 508fedd")
    assert "**0.950**, within the 5% tolerance" in page
    assert "| 1 | baseline, working tree | 0.1 | 0.2 | 2000 | 1900 | 0.95 |" in page
    assert f"load average at the start {report.machine['load_average_at_start']}" in page
