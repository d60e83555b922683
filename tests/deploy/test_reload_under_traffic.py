"""Zero-downtime reindex: ``ladder ingest`` writes a new index version while the server
serves continuous traffic, ``POST /v1/admin/reload`` swaps it in; no request fails."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.deploy.conftest import ROOT, ladder_env, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTIONS = [
    "What are the KPIs of a Staff Data Engineer?",
    "Which skills does a Staff Data Engineer need?",
    "What are the 90-day goals for a Staff Data Engineer?",
    "How is data quality measured?",
]


class Traffic(threading.Thread):
    """Back-to-back answers, searches and role listings until stopped; records every outcome."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(name="traffic", daemon=True)
        self._client = httpx.Client(base_url=url, headers={"authorization": f"Bearer {key}"}, timeout=60)
        self._halt = threading.Event()
        self.failures: list[str] = []
        self.count = 0
        self.versions: Counter[str] = Counter()  # index version reported by /v1/search

    def run(self) -> None:
        for i in itertools.count():
            if self._halt.is_set():
                break
            question = QUESTIONS[i % len(QUESTIONS)]
            kind = ("answer", "search", "roles")[i % 3]
            try:
                if kind == "answer":
                    response = self._client.post("/v1/answers", json={"question": question})
                elif kind == "search":
                    response = self._client.post("/v1/search", json={"query": question, "k": 3})
                else:
                    response = self._client.get("/v1/roles")
                if response.status_code != 200:
                    self.failures.append(f"{kind}: HTTP {response.status_code} {response.text[:200]}")
                elif kind == "search":
                    self.versions[response.json()["index_version"]] += 1
            except httpx.HTTPError as exc:
                self.failures.append(f"{kind}: {exc!r}")
            self.count += 1
        self._client.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(60)


def test_ingest_and_reload_under_traffic_fail_no_request(data_dir: Path, make_key, serve) -> None:
    key, _ = make_key("answers,search,roles,admin")
    server = serve(data_dir)
    before = httpx.get(f"{server.url}/readyz", timeout=10).json()["checks"]["index"]["version"]
    traffic = Traffic(server.url, key)
    traffic.start()
    try:
        wait_for(lambda: traffic.count >= 10, 120, "traffic to flow")
        # A smaller corpus (one blueprint), so the new version is easy to tell apart.
        ingest = subprocess.run(
            [sys.executable, "-m", "gateway.cli.main", "ingest", str(ROOT / "corpus" / "staff-data-engineer.md")],
            cwd=data_dir, env=ladder_env(data_dir), capture_output=True, text=True, timeout=600, check=False,
        )
        assert ingest.returncode == 0, ingest.stderr
        assert traffic.count > 10 and not traffic.failures  # the build did not disturb serving

        reload = httpx.post(f"{server.url}/v1/admin/reload", headers={"authorization": f"Bearer {key}"}, timeout=120)
        assert reload.status_code == 200, reload.text
        swapped = reload.json()
        assert swapped["changed"] and swapped["previous_version"] == before
        after = swapped["version"]
        ready = httpx.get(f"{server.url}/readyz", timeout=10).json()
        assert ready["checks"]["index"]["version"] == after != before
        wait_for(lambda: traffic.versions[after] >= 5, 120, "searches answered from the new index")
    finally:
        traffic.stop()
    assert not traffic.failures, traffic.failures[:5]
    assert traffic.versions[before] > 0 and traffic.versions[after] >= 5
    assert set(traffic.versions) == {before, after}
