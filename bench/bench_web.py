"""The chat page: what it weighs and how soon its first answer token shows.

Starts a real gateway (``ladder serve --dev`` in a subprocess, default settings
apart from a private data dir), then drives headless Chromium:

* page weight: every response the browser loads for ``/`` (bytes as served,
  uncompressed; gzip -6 size for reference), and the load timings;
* time to first token in the page: from the Enter key (the page's own clock,
  ``performance.now()``) to the first streamed delta, per question, with the
  response cache cold (first ask) and warm (the same question again);
* the same questions straight over HTTP (httpx, streaming) for comparison, so the
  page's own overhead can be read off.

    python bench/bench_web.py [--runs 3] [--write-md] [--data-dir bench/out/web] [--reingest]

Needs /usr/bin/chromium (``apt-get install -y chromium``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
QUESTIONS = [
    "What availability should an AI endpoint reach?",
    "What are the 30-day goals of a Staff Applied AI Engineer?",
    "Which skills does an MLOps Engineer need?",
    "What KPIs does an AI Platform Lead own?",
    "What is the next career step for a Senior ML Engineer?",
]
RESULTS = ROOT / "bench" / "results" / "web.md"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} / {pct(values, 0.95):.0f} / {max(values):.0f}"


class Gateway:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LADDER_")}
        env.update(LADDER_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def ingest(self) -> None:
        subprocess.run([sys.executable, "-m", "gateway.cli.main", "ingest"], cwd=ROOT, env=self.env, check=True)

    def start(self, timeout_s: float = 600.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "serve", "--dev", "--port", str(self.port)],
            cwd=ROOT, env=self.env,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the gateway exited with code {self.proc.returncode}")
            try:
                # uvicorn accepts connections only once the lifespan (index, models) is up.
                if httpx.get(f"{self.url}/v1/roles", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise SystemExit("the gateway did not become ready in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def page_weight(browser: Any, url: str) -> dict[str, Any]:
    context = browser.new_context()
    page = context.new_page()
    responses: list[Any] = []
    page.on("response", lambda response: responses.append(response))
    page.goto(url + "/", wait_until="networkidle")
    page.wait_for_function("() => document.querySelectorAll('#role option').length > 1")
    timing = page.evaluate(
        """() => { const n = performance.getEntriesByType('navigation')[0];
                  return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd}; }"""
    )
    files: dict[str, dict[str, Any]] = {}
    requests = 0
    for response in responses:
        path = response.url.removeprefix(url)
        if path.startswith("/v1/"):
            continue  # data, not page weight
        requests += 1
        body = response.body()
        files[path] = {"path": path.split("?")[0], "bytes": len(body), "gzip": len(gzip.compress(body, 6))}
    context.close()
    return {"files": list(files.values()), "requests": requests, "timing": timing}


def page_ttft(browser: Any, url: str, question: str) -> tuple[float, float]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(url + "/")
    page.wait_for_function("() => document.querySelectorAll('#role option').length > 1")
    page.fill("#input", question)
    page.press("#input", "Enter")
    page.wait_for_function(
        "() => { const a = [...document.querySelectorAll('article.msg.bot')].pop();"
        " return a && !['thinking', 'streaming'].includes(a.dataset.state); }",
        timeout=120_000,
    )
    answer = page.locator("article.msg.bot").last
    ttft, total = float(answer.get_attribute("data-ttft-ms")), float(answer.get_attribute("data-total-ms") or "nan")
    context.close()
    return ttft, total


def http_ttft(client: httpx.Client, url: str, question: str, model: str) -> float:
    # One kept-alive client, as the browser keeps its connection: a new httpx client
    # per call would add its own set-up (~100+ ms here) to every measurement.
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": question}]}
    started = time.perf_counter()
    with client.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=120) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunk = json.loads(line[6:])
                delta = (chunk.get("choices") or [{}])[0].get("delta") or {}
                if delta.get("content"):
                    return (time.perf_counter() - started) * 1000
    raise RuntimeError("no content delta in the stream")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="warm repeats per question")
    parser.add_argument("--write-md", action="store_true", help=f"update {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "out" / "web",
                        help="gateway data dir; its index (and exported ONNX model) is reused when present")
    parser.add_argument("--reingest", action="store_true", help="rebuild the index even if one exists")
    args = parser.parse_args()
    if not Path(CHROMIUM).is_file():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    data_dir = args.data_dir
    for stale in ("ladder.db", "ladder.db-wal", "ladder.db-shm"):  # a fresh ledger per run
        (data_dir / stale).unlink(missing_ok=True)
    gateway = Gateway(data_dir)
    try:
        if args.reingest or not any((data_dir / "index").glob("*/complete")):
            gateway.ingest()
        gateway.start()
        model = next(m["id"] for m in httpx.get(f"{gateway.url}/v1/models").json()["data"] if m["default"])
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            weight = page_weight(browser, gateway.url)
            cold = [page_ttft(browser, gateway.url, q) for q in QUESTIONS]
            warm = [page_ttft(browser, gateway.url, q) for q in QUESTIONS for _ in range(args.runs)]
            browser.close()
        with httpx.Client() as client:
            http_ttft(client, gateway.url, QUESTIONS[0], model)  # open the connection
            http_warm = [http_ttft(client, gateway.url, q, model) for q in QUESTIONS for _ in range(args.runs)]
    finally:
        gateway.stop()

    total = sum(f["bytes"] for f in weight["files"])
    total_gz = sum(f["gzip"] for f in weight["files"])
    lines = [
        "# Web chat page: weight and time to first token",
        "",
        f"Command: `python bench/bench_web.py --runs {args.runs} --write-md` (repository root, venv active)",
        "",
        (f"Machine: 2-core x86_64 CPU, no GPU, Python {platform.python_version()}; Debian Chromium "
        "(headless) on the same machine; gateway `ladder serve --dev` with default settings "
        f"(default model `{model}`) in its own process. 1-minute load average at the end of the "
        f"run: {os.getloadavg()[0]:.1f} (the machine was shared with other jobs)."),
        "",
        "## Page weight (what the browser loads for `/`, before any question)",
        "",
        "| file | bytes | gzip -6 |",
        "|---|---:|---:|",
        *[f"| `{f['path']}` | {f['bytes']:,} | {f['gzip']:,} |" for f in weight["files"]],
        f"| **total ({len(weight['files'])} files)** | **{total:,}** | **{total_gz:,}** |",
        "",
        (f"{weight['requests']} requests (the icon is asked for twice: header image and favicon). "
        f"The gateway serves these uncompressed. DOMContentLoaded {weight['timing']['dcl']:.0f} ms, "
        f"load {weight['timing']['load']:.0f} ms after navigation start (loopback)."),
        "",
        "## Time to first token (ms: median / p95 / max)",
        "",
        "| measured | n | first token | whole answer |",
        "|---|---:|---:|---:|",
        (f"| page, response cache cold (first ask of each question) | {len(cold)} | "
        f"{summary([t for t, _ in cold])} | {summary([d for _, d in cold])} |"),
        (f"| page, response cache warm (same question again) | {len(warm)} | "
        f"{summary([t for t, _ in warm])} | {summary([d for _, d in warm])} |"),
        f"| HTTP client (httpx stream), cache warm, for comparison | {len(http_warm)} | {summary(http_warm)} | - |",
        "",
        ("The page clock starts at the Enter key and stops at the first streamed delta "
        "(`data-ttft-ms` on the answer); the whole answer stops at the final chunk "
        "(`data-total-ms`). Each page measurement uses a fresh browser context."),
    ]
    text = "\n".join(lines)
    print(text)
    if args.write_md:
        fd, tmp = tempfile.mkstemp(dir=RESULTS.parent, prefix=".web-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        os.replace(tmp, RESULTS)


if __name__ == "__main__":
    main()
