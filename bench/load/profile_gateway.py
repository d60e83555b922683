"""Profile the gateway's hot path under load with py-spy (sampling; ``pip install py-spy``).

    python bench/load/profile_gateway.py --concurrency 8 --duration 20 --kinds answer

Starts ``ladder serve`` (1 worker), drives it with the load generator, records the
server with ``py-spy record --format raw`` (collapsed stacks, GIL holders only with
--gil) and prints the functions with the largest inclusive and self share of samples.
The flame-graph input is kept under bench/out/load/profile-*.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

import harness
import workload


def summarize(collapsed: Path, top: int) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    out = [f"samples: {total}", "", "inclusive:"]
    out += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    out += ["", "self:"]
    out += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--kinds", nargs="+", default=list(workload.DEFAULT_MIX),
                        help="request kinds, equally weighted (default: the standard mix)")
    parser.add_argument("--repeat-share", type=float, default=0.5)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--gil", action="store_true", help="only sample threads holding the GIL")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--upstream-ms", type=float, default=None,
                        help="route chat through the openai provider (alias ladder-chat) to the fake "
                             "upstream answering after this many ms; response cache off")
    args = parser.parse_args()
    if shutil.which("py-spy") is None:
        sys.exit("py-spy is not installed: pip install py-spy")
    mix = workload.DEFAULT_MIX if args.kinds == list(workload.DEFAULT_MIX) else {k: 1.0 for k in args.kinds}
    data_dir = harness.scratch_data_dir("profile")
    key = harness.create_key(data_dir)
    out = harness.OUT / f"profile-{'-'.join(args.kinds)}-c{args.concurrency}.txt"
    with contextlib.ExitStack() as stack:
        env: dict[str, str] = {}
        model = None
        if args.upstream_ms is not None:
            upstream = stack.enter_context(harness.running(harness.FakeUpstream(
                harness.free_port(), args.upstream_ms, harness.OUT / "profile-fake.log")))
            env = {"LADDER_PROVIDERS__OPENAI_BASE_URL": upstream.url, "LADDER_CACHE__ENABLED": "false"}
            model = "ladder-chat"
        gateway = stack.enter_context(harness.running(harness.Gateway(data_dir, env=env)))
        asyncio.run(workload.run_level(gateway.url, key, concurrency=args.concurrency, duration_s=3,
                                       warmup_s=0, mix=mix, model=model))
        command = ["py-spy", "record", "--pid", str(gateway.pid), "--format", "raw", "--output", str(out),
                   "--rate", str(args.rate), "--duration", str(int(args.duration)), "--nonblocking"]
        if args.gil:
            command.append("--gil")
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        result = asyncio.run(workload.run_level(
            gateway.url, key, concurrency=args.concurrency, duration_s=args.duration, warmup_s=0.5,
            mix=mix, repeat_share=args.repeat_share, model=model))
        spy.wait(timeout=args.duration + 60)
    print(f"load avg {harness.load_average()}; {result.count} requests, {result.throughput:.1f} req/s, "
          f"p50 {result.percentile_ms(50):.1f} ms")
    print(summarize(out, args.top))


if __name__ == "__main__":
    main()
