"""httpx vs aiohttp as the gateway's upstream HTTP client, measured under load.

    python bench/bench_upstream_client.py --concurrency 16 64 --duration 15 --write-md

Three processes per run, all on 127.0.0.1:

* the fake OpenAI-compatible upstream (gateway.testing.fake_upstream, aiohttp) answering
  after a fixed ``--latency-ms`` (50 ms);
* a minimal proxy on the gateway's own stack (uvicorn + Starlette) that forwards
  POST /v1/chat/completions through ONE shared client, either an ``httpx.AsyncClient``
  or an ``aiohttp.ClientSession``, with the same pool size (100), parsing the JSON reply
  (or relaying the SSE lines) as ladder's provider does;
* this process: closed-loop aiohttp clients, non-streaming and streaming requests.

"direct" rows send the same load straight to the upstream: the floor the proxy adds to.
Proxy CPU per request comes from /proc/<pid>/stat (user + system).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent / "load"), str(Path(__file__).resolve().parent)]

import aiohttp
import harness

SECTION = "upstream-client"
BODY = {
    "model": "fake-llm",
    "temperature": 0,
    "messages": [
        {"role": "system", "content": "Answer only from the passages."},
        {"role": "user", "content": "Question: what are the KPIs?\n\n[1] KPIs\n- Eval coverage above 90%. Cost per "
                                    "request tracked weekly.\n"},
    ],
}
POOL = 100


# -- the proxy (runs in its own process: --serve-proxy) ----------------------------------------

def build_proxy(client_kind: str, upstream: str):  # type: ignore[no-untyped-def]
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    state: dict[str, object] = {}
    url = f"{upstream}/chat/completions"

    async def startup() -> None:
        if client_kind == "httpx":
            import httpx

            limits = httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL)
            state["client"] = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30.0))
        else:
            connector = aiohttp.TCPConnector(limit=POOL, limit_per_host=POOL)
            state["client"] = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30))

    async def shutdown() -> None:
        client = state["client"]
        await (client.aclose() if client_kind == "httpx" else client.close())  # type: ignore[attr-defined]

    async def chat(request: Request) -> Response:
        body = await request.json()
        client = state["client"]
        if client_kind == "httpx":
            if not body.get("stream"):
                reply = await client.post(url, json=body)  # type: ignore[attr-defined]
                return JSONResponse(reply.json(), status_code=reply.status_code)

            async def relay_httpx():  # type: ignore[no-untyped-def]
                async with client.stream("POST", url, json=body) as reply:  # type: ignore[attr-defined]
                    async for line in reply.aiter_lines():
                        if line.startswith("data:"):
                            yield line + "\n\n"

            return StreamingResponse(relay_httpx(), media_type="text/event-stream")
        if not body.get("stream"):
            async with client.post(url, json=body) as reply:  # type: ignore[attr-defined]
                payload = json.loads(await reply.read())
                return JSONResponse(payload, status_code=reply.status)

        async def relay_aiohttp():  # type: ignore[no-untyped-def]
            async with client.post(url, json=body) as reply:  # type: ignore[attr-defined]
                async for raw in reply.content:
                    line = raw.decode().strip()
                    if line.startswith("data:"):
                        yield line + "\n\n"

        return StreamingResponse(relay_aiohttp(), media_type="text/event-stream")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        await startup()
        yield
        await shutdown()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                             Route("/healthz", healthz)], lifespan=lifespan)


def serve_proxy(client_kind: str, upstream: str, port: int) -> None:
    import uvicorn

    uvicorn.run(build_proxy(client_kind, upstream), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


# -- the load ------------------------------------------------------------------------------------

async def drive(url: str, *, concurrency: int, duration: float, stream: bool, warmup: float = 2.0
                ) -> tuple[list[float], int, float]:
    """Closed-loop clients; returns (latencies of measured requests, errors, measured seconds)."""
    latencies: list[float] = []
    errors = 0
    body = {**BODY, "stream": stream}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        start = time.perf_counter()
        measure_from, end = start + warmup, start + warmup + duration

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < end:
                sent = time.perf_counter()
                ok = False
                try:
                    async with session.post(f"{url}/chat/completions", json=body) as reply:
                        data = await reply.read()
                        ok = reply.status == 200 and (not stream or data.rstrip().endswith(b"[DONE]"))
                except (TimeoutError, aiohttp.ClientError):
                    ok = False
                if measure_from <= sent < end:
                    if ok:
                        latencies.append(time.perf_counter() - sent)
                    else:
                        errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, duration


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 100)) - 1))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--clients", nargs="+", default=["httpx", "aiohttp"], choices=["httpx", "aiohttp"])
    parser.add_argument("--write-md", action="store_true")
    parser.add_argument("--serve-proxy", choices=["httpx", "aiohttp"], help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_proxy:
        serve_proxy(args.serve_proxy, args.upstream, args.port)
        return

    import httpx

    rows: list[str] = []
    loads: list[str] = []
    upstream = harness.FakeUpstream(harness.free_port(), args.latency_ms, harness.OUT / "upstream-client-fake.log")
    with harness.running(upstream):
        for stream in (False, True):
            for concurrency in args.concurrency:
                loads.append(harness.load_average())
                lat, err, secs = asyncio.run(drive(upstream.url, concurrency=concurrency, duration=args.duration,
                                                   stream=stream))
                rows.append(f"| direct | {'stream' if stream else 'json'} | {concurrency} | {len(lat) / secs:.0f} | "
                            f"{pct(lat, 50):.1f} | {pct(lat, 99):.1f} | {err} | - | {loads[-1]} |")
                print(rows[-1], flush=True)
                for kind in args.clients:
                    port = harness.free_port()
                    proxy = harness.Process(
                        [harness.PYTHON, __file__, "--serve-proxy", kind, "--upstream", upstream.url,
                         "--port", str(port)],
                        harness._clean_env({}), harness.OUT / f"upstream-client-{kind}.log",
                    )
                    with harness.running(proxy):
                        harness.wait_http(f"http://127.0.0.1:{port}/healthz", proxy, timeout=60)
                        loads.append(harness.load_average())
                        before = harness.sample(proxy.pid)
                        lat, err, secs = asyncio.run(drive(f"http://127.0.0.1:{port}/v1", concurrency=concurrency,
                                                           duration=args.duration, stream=stream))
                        after = harness.sample(proxy.pid)
                    cpu_ms = 1000 * (after.cpu_s - before.cpu_s) / max(1, len(lat) + err)
                    rows.append(f"| {kind} | {'stream' if stream else 'json'} | {concurrency} | "
                                f"{len(lat) / secs:.0f} | {pct(lat, 50):.1f} | {pct(lat, 99):.1f} | {err} | "
                                f"{cpu_ms:.2f} | {loads[-1]} |")
                    print(rows[-1], flush=True)
    lines = [
        "## Upstream HTTP client: httpx vs aiohttp under load",
        "",
        (f"Command: `python bench/bench_upstream_client.py --concurrency {' '.join(map(str, args.concurrency))} "
         f"--duration {args.duration:g} --latency-ms {args.latency_ms:g}{' --write-md' if args.write_md else ''}`"),
        "",
        (f"Machine: {harness.machine()}; httpx {httpx.__version__}, aiohttp {aiohttp.__version__}. "
         f"Fake upstream answers after {args.latency_ms:g} ms; a uvicorn+Starlette proxy forwards through one "
         f"shared client (pool {POOL}); load from closed-loop aiohttp clients in a third process. "
         "Proxy CPU/request includes the warm-up requests' share (upper bound)."),
        "",
        "| client | mode | clients | req/s | p50 ms | p99 ms | errors | proxy CPU ms/req | load avg (1/5/15) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
        *rows,
    ]
    print("\n".join(lines))
    if args.write_md:
        harness.write_section("gateway_speed.md", SECTION, "\n".join(lines))


if __name__ == "__main__":
    main()
