"""The benchmarks' load generator and process helpers, shared by ``bench_gateway.py`` and
``bench_serving.py``.

Why a raw asyncio generator: an ``httpx.AsyncClient`` tops out near 700 req/s at
concurrency 16 on the 2-core benchmark machine, less than its ~1,170 at concurrency 1
(encode/httpx#3215), while the servers under test answer 4,000+ req/s; a client that slow
would measure itself. Here each connection writes request bytes built once up front onto an
asyncio stream and parses only the status line and ``content-length`` of the answer, so the
generator costs little of the CPU it shares with the servers.

What :func:`load` measures: a closed loop over ``concurrency`` keep-alive HTTP/1.1
connections to ``127.0.0.1:port``; each sends a request, waits for the whole answer, then
sends the next, until ``seconds`` have passed (requests in flight then still finish). It
records each request's latency (request written -> last body byte read) and returns
requests completed, errors (answers other than 200), req/s (completed requests over the
wall time of the whole run, connecting included) and p50/p99 latency in ms. A connection
error is not counted: it aborts the run.

The resource helpers at the end read Linux's ``/proc``: a server's process tree, its RSS
and PSS, the CPU time it used (so a benchmark can report CPU per request, which other
work on a small shared machine disturbs less than throughput).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# --- the processes ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(script: str | Path, *args: str) -> subprocess.Popen[bytes]:
    """Run ``script`` with ``args`` in a new Python process (the benchmarks start their
    servers by running themselves with hidden options)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, str(script), *args], env=env)


def wait_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


# --- HTTP/1.1 on asyncio streams --------------------------------------------------------


def request_bytes(method: str, path: str, body: bytes, extra_headers: str = "") -> bytes:
    """One JSON request; ``extra_headers`` are whole lines, each ending in ``\\r\\n``."""
    head = (
        f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{extra_headers}\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One whole answer: status, headers (names lower-cased) and body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def read_status(reader: asyncio.StreamReader) -> int:
    """One whole answer, as cheaply as possible: only its status is kept."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


# --- the load generator -----------------------------------------------------------------


def summarize(latencies: list[float], errors: int, elapsed: float) -> dict[str, float]:
    """The figures of one run from its per-request latencies (seconds, sorted in place)."""
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": errors,
        "rps": n / elapsed,
        "p50_ms": latencies[n // 2] * 1000 if n else float("nan"),
        "p99_ms": latencies[max(0, int(n * 0.99) - 1)] * 1000 if n else float("nan"),
    }


async def load(
    port: int,
    path: str,
    body: bytes,
    seconds: float,
    concurrency: int,
    method: str = "POST",
    extra_headers: str = "",
) -> dict[str, float]:
    """Closed loop for ``seconds`` over ``concurrency`` keep-alive connections (see the
    module docstring): requests, errors, rps, p50_ms, p99_ms."""
    payload = request_bytes(method, path, body, extra_headers)
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                writer.write(payload)
                status = await read_status(reader)
                latencies.append(time.perf_counter() - started)
                errors += status != 200
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summarize(latencies, errors, time.perf_counter() - started)


# --- the processes' resources (Linux /proc; used by bench_serving.py) -------------------


def _status(pid: int, key: str) -> int:
    """A ``/proc/PID/status`` (or ``smaps_rollup``) figure in kB."""
    for name in ("status", "smaps_rollup"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/{name}") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out.extend(int(c) for c in f.read().split())
    return out


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode(errors="replace")
    return ""


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by ``root`` and its descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(_children(pid))
        with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def native_packages(pid: int) -> list[str]:
    """Packages with a native extension mapped into ``pid`` (numpy, sklearn, pandas...)."""
    found = set()
    with contextlib.suppress(OSError), open(f"/proc/{pid}/maps") as f:
        for line in f:
            m = re.search(r"site-packages/([A-Za-z0-9_.]+)/", line)
            if m and not m.group(1).endswith((".libs", ".dist-info")):
                found.add(m.group(1))
    return sorted(found)


def process_tree(root: int) -> dict[str, Any]:
    """RSS and PSS (MB) of ``root`` and every descendant, workers told apart."""
    procs = []
    todo = [root]
    while todo:
        pid = todo.pop()
        todo.extend(_children(pid))
        cmd = _cmdline(pid)
        role = "parent" if pid == root else "tracker" if "resource_tracker" in cmd else "worker"
        procs.append(
            {"pid": pid, "role": role, "rss": _status(pid, "VmRSS") / 1024,
             "pss": _status(pid, "Pss") / 1024}
        )  # fmt: skip
    workers = [p for p in procs if p["role"] == "worker"]
    parent = procs[0]
    if not workers:  # one worker: uvicorn serves in the process itself
        workers = [parent]
    return {
        "parent": parent,
        "workers": workers,
        "tree_rss": sum(p["rss"] for p in procs),
        "tree_pss": sum(p["pss"] for p in procs),
        "worker_rss": statistics.fmean(w["rss"] for w in workers),
        "n": len(procs),
        "parent_native": native_packages(root),
    }
