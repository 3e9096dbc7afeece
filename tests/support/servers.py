"""Servers the tests start on loopback: the app under `streamlit run`, and a folder's files over
HTTP (what the app downloads, served here so nothing leaves the machine).

`streamlit_server` is the one way a test, a benchmark or docs/screenshots.py starts the app.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from core.config import ROOT


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU seconds so far (/proc/<pid>/stat, fields 14 and 15): what a
    server has spent, read by the tests and benchmarks that time it."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_server(url: str, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"no Streamlit server answered at {url}")


@contextlib.contextmanager
def streamlit_server(
    env: dict[str, str],
    log: Path | None = None,
    args: tuple[str, ...] = (),
    port: int = 0,
    script: str = "app.py",
):
    """`streamlit run app.py` (or `script`) on loopback (a free port unless given) with `env`
    added (and `args`); yields (url, process)."""
    port = port or free_port()
    output = open(log, "w") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            script,
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            # The tests read a traceback in full, to assert there is none (config.toml hides it).
            "--client.showErrorDetails",
            "full",
            *args,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(url)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextlib.contextmanager
def serve_folder(folder: Path):
    """A loopback HTTP server for `folder`'s files (with Content-Length); yields its base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
