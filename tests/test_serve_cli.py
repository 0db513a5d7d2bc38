"""``liqbot serve`` as a process: it starts on the given port, answers, and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.serve_kit import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_runs_beside_the_state_and_stops_on_sigterm(sim_state: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "LIQBOT_LOGGING__FILE": str(tmp_path / "liqbot.log"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    env.pop("LIQBOT_SERVE__TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli.main", "serve", "--state", str(sim_state), "--port",
                             str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/heatmap/BTCUSDT", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "liqbot serve did not come up"
                time.sleep(0.5)
        assert r.status_code == 200 and r.json()["success"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"liqbot serve: http://127.0.0.1:{port}/" in err and out == ""
