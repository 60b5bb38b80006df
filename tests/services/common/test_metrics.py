"""The Prometheus metrics: one process, several worker processes summed, scrape-time gauges."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from certdist.config import METRICS_DIR_VARIABLE, metrics_dir, prepare_metrics_dir
from certdist.services.common import NO_METRICS, PrometheusMetrics, Reading

# A worker process: prometheus-client reads the folder from the environment when imported.
_WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from certdist.services.common import PrometheusMetrics

    metrics = PrometheusMetrics(Path(sys.argv[1]))
    for _ in range(int(sys.argv[2])):
        metrics.request("/healthz", "GET", 200, 0.0003)
    metrics.certificates_issued("VaccinationCertificate", 2)
    """
)


def _sample(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{series} not exposed:\n{text}")


def test_counts_in_one_process() -> None:
    metrics = PrometheusMetrics()
    metrics.request("/healthz", "GET", 200, 0.0003)
    metrics.request("/healthz", "GET", 200, 0.002)
    metrics.otp_failed("not_delivered")
    text = metrics.exposition([]).decode()
    assert (
        _sample(text, 'certdist_http_requests_total{method="GET",route="/healthz",status="200"}')
        == 2
    )
    # The smallest bucket takes a request answered from memory.
    bucket = (
        'certdist_http_request_duration_seconds_bucket{le="0.00025",method="GET",route="/healthz"}'
    )
    assert _sample(text, bucket) == 0
    bucket = bucket.replace('le="0.00025"', 'le="0.0005"')
    assert _sample(text, bucket) == 1
    assert _sample(text, 'certdist_otp_failures_total{reason="not_delivered"}') == 1


def test_two_applications_in_one_process_count_apart() -> None:
    first, second = PrometheusMetrics(), PrometheusMetrics()
    first.otp_sent()
    assert _sample(second.exposition([]).decode(), "certdist_otp_sends_total") == 0


def test_scrape_time_readings_are_gauges() -> None:
    readings = [
        Reading("certdist_outbox_depth", "queued", 3),
        Reading("certdist_example", "labelled", 1.5, (("pool", 'a"b'),)),
    ]
    text = PrometheusMetrics().exposition(readings).decode()
    assert "# TYPE certdist_outbox_depth gauge" in text
    assert _sample(text, "certdist_outbox_depth") == 3
    assert _sample(text, 'certdist_example{pool="a\\"b"}') == 1.5


def test_no_metrics_exposes_nothing() -> None:
    NO_METRICS.request("/healthz", "GET", 200, 0.1)
    assert NO_METRICS.exposition([Reading("x", "y", 1)]) == b""


def test_worker_processes_are_summed(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {METRICS_DIR_VARIABLE: str(folder), "PATH": "/usr/bin:/bin"}
    for requests in (3, 4):
        subprocess.run(
            [sys.executable, "-c", _WORKER, str(folder), str(requests)],
            env=env,
            check=True,
            timeout=60,
        )
    assert len(list(folder.glob("counter_*.db"))) == 2  # one file per process
    text = PrometheusMetrics(folder).exposition([Reading("certdist_outbox_depth", "q", 0)]).decode()
    assert (
        _sample(text, 'certdist_http_requests_total{method="GET",route="/healthz",status="200"}')
        == 7
    )
    assert (
        _sample(text, 'certdist_certificates_issued_total{entity_type="VaccinationCertificate"}')
        == 4
    )
    assert _sample(text, "certdist_outbox_depth") == 0


def test_serve_prepares_an_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(METRICS_DIR_VARIABLE, "restored-after-the-test")
    stale = tmp_path / "metrics" / "counter_123.db"
    stale.parent.mkdir()
    stale.write_bytes(b"an earlier run")
    path = prepare_metrics_dir(tmp_path)
    assert path == stale.parent.resolve()
    assert not stale.exists()
    assert metrics_dir() == path
