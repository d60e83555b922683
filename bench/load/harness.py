"""Processes for load benchmarks: a real ``ladder serve``, the fake upstream, /proc sampling.

Every benchmark in bench/load runs the gateway as a separate process (as in
production) and drives it from this one, so the server's CPU is its own and the
figures include HTTP parsing, auth, JSON encoding and the event loop.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from gateway.testing.procs import children

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
OUT = BENCH / "out" / "load"
DATA_DIR = OUT / "data"  # index built once with `ladder ingest` (see ensure_index)
RESULTS = BENCH / "results"
PYTHON = sys.executable
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine() -> str:
    return f"{os.cpu_count()}-core {platform.machine()} CPU, no GPU, Python {platform.python_version()}"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def cpu_probe_ms(rounds: int = 3) -> float:
    """Milliseconds of CPU a fixed pure-Python loop takes here (best of ``rounds``).

    The box is a shared VM: the same loop has taken from ~420 to ~730 ms minutes apart
    on an idle machine, which moves every throughput figure with it. Printed next to
    each scenario so runs taken at different speeds can be told apart."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        total = 0
        for i in range(1_000_000):
            total += i * i % 7
        best = min(best, (time.process_time() - started) * 1000)
    return best


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- /proc sampling ----------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """The pid and its descendants (uvicorn workers are children of the supervisor)."""
    tree, frontier = [pid], [pid]
    while frontier:
        kids = [kid for parent in frontier for kid in children(parent)]
        tree.extend(kids)
        frontier = kids
    return tree


@dataclass(frozen=True)
class ProcSample:
    rss_mb: float
    fds: int
    cpu_s: float
    # Proportional set size: a page shared by n processes counts 1/n in each, so the sum
    # over the tree is the memory it really holds (RSS counts shared pages once per process).
    pss_mb: float = 0.0


def sample(pid: int) -> ProcSample:
    """RSS (VmRSS), PSS, open file descriptors and user+system CPU of pid and its descendants."""
    rss_kb = pss_kb = fds = 0
    ticks = 0
    for member in process_tree(pid):
        base = Path(f"/proc/{member}")
        try:
            for line in (base / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss_kb += int(line.split()[1])
            with contextlib.suppress(OSError):  # smaps_rollup: Linux 4.14+
                for line in (base / "smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        pss_kb += int(line.split()[1])
            fds += len(os.listdir(base / "fd"))
            fields = (base / "stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue  # the process ended between listing and reading
    return ProcSample(rss_kb / 1024, fds, ticks / _CLK_TCK, pss_kb / 1024)


# -- processes ---------------------------------------------------------------------------------

def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LADDER_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    # An empty TOML config: a developer's ./ladder.toml must not change a benchmark.
    empty = OUT / "empty.toml"
    empty.parent.mkdir(parents=True, exist_ok=True)
    empty.write_text("", encoding="utf-8")
    env["LADDER_CONFIG"] = str(empty)
    env.update(extra)
    return env


class Process:
    """A child process in its own process group, stopped with SIGTERM then SIGKILL."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM; wait up to ``timeout``; SIGKILL the group if still running. Returns the exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class FakeUpstream(Process):
    def __init__(self, port: int, latency_ms: float, log: Path) -> None:
        super().__init__(
            [PYTHON, "-m", "gateway.testing.fake_upstream", "--port", str(port), "--latency-ms", str(latency_ms)],
            _clean_env({}), log,
        )
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1"
        wait_http(f"http://127.0.0.1:{port}/_stats", self, timeout=60)

    def control(self, **body: object) -> None:
        httpx.post(f"http://127.0.0.1:{self.port}/_control", json=body, timeout=5).raise_for_status()


class Gateway(Process):
    """``ladder serve`` on 127.0.0.1 against ``data_dir`` (index already built)."""

    def __init__(
        self, data_dir: Path, *, port: int | None = None, workers: int = 1,
        env: dict[str, str] | None = None, log: Path | None = None, timeout: float = 600.0,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings_env = {"LADDER_DATA_DIR": str(data_dir), "LADDER_WORKERS": str(workers)}
        settings_env.update(env or {})
        super().__init__(
            [PYTHON, "-m", "gateway.cli.main", "serve", "--port", str(self.port)],
            _clean_env(settings_env), log or OUT / f"gateway-{self.port}.log",
        )
        wait_http(f"{self.url}/healthz", self, timeout=timeout)


def wait_http(url: str, process: Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.proc.args} exited with {process.proc.returncode}:\n{process.tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    process.terminate()
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s:\n{process.tail()}")


@contextlib.contextmanager
def running(process: Process) -> Iterator[Process]:
    try:
        yield process
    finally:
        process.terminate()


# -- data ----------------------------------------------------------------------------------------

def ensure_index(data_dir: Path = DATA_DIR) -> Path:
    """Build the corpus index once into ``data_dir`` with ``ladder ingest`` (skipped when present)."""
    index = data_dir / "index"
    if index.is_dir() and any((version / "complete").is_file() for version in index.iterdir()):
        return data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [PYTHON, "-m", "gateway.cli.main", "ingest"], cwd=ROOT, check=True,
        env=_clean_env({"LADDER_DATA_DIR": str(data_dir)}),
    )
    return data_dir


def scratch_data_dir(name: str, source: Path = DATA_DIR) -> Path:
    """A fresh data dir for one run: its own ledger, a copy of the built index, and the
    exported embedding models shared by symlink (exporting ONNX again takes minutes)."""
    import shutil

    ensure_index(source)
    target = OUT / "runs" / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copytree(source / "index", target / "index")
    models = (source / "models").resolve()
    models.mkdir(parents=True, exist_ok=True)
    (target / "models").symlink_to(models, target_is_directory=True)
    return target


def create_key(data_dir: Path, name: str = "bench") -> str:
    """An API key with every scope and limits far above any benchmark's rate: a benchmark
    measures the service, not the rate limiter (which answers 429 in microseconds)."""
    from gateway.auth.keys import KeyStore

    store = KeyStore(data_dir / "ladder.db")
    store.start()
    try:
        return store.create(
            name, "answers,chat,search,roles,admin", "employee", rpm=100_000_000, tpm=2_000_000_000
        ).plain_key
    finally:
        store.close()


# -- results -----------------------------------------------------------------------------------

_TITLES = {
    "load.md": "# Load and deployment benchmarks",
    "gateway_speed.md": "# Gateway speed",
}


def write_section(filename: str, name: str, body: str) -> Path:
    """Rewrite one named section of bench/results/<filename>, creating the file if needed."""
    sys.path.insert(0, str(BENCH))
    from results_file import update_section

    path = RESULTS / filename
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        title = _TITLES.get(filename, "# Benchmarks")
        path.write_text(f"{title}\n\nEach section is rewritten by the script named in it.\n", encoding="utf-8")
    update_section(path, name, body)
    return path
