"""`dockyard serve` as a user runs it: a registered version answers; unsafe input refused."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx

from support import free_port, start_serve, stop_serve

REGISTER = """
from sklearn.linear_model import LogisticRegression
from dockyard import register_model

X = [[0.0, 1.0], [1.0, 0.0], [0.1, 0.8], [0.9, 0.2]]
model = LogisticRegression().fit(X, [0, 1, 0, 1])
register_model("tiny", model, sample=X, aliases=["production"])


class Opaque:
    def predict(self, rows):
        return [7 for _ in rows]


register_model("opaque", Opaque())
"""


def test_serve_a_registered_version(cli, project: Path) -> None:
    (project / "register.py").write_text(REGISTER)
    subprocess.run([sys.executable, "register.py"], cwd=project, check=True)
    proc, base = start_serve(project, "tiny@production")
    try:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        r = httpx.post(f"{base}/predict", json={"instances": [[0.0, 1.0], [1.0, 0.0]]})
        assert r.status_code == 200
        assert r.json() == {"predictions": [0, 1], "model": "tiny", "version": 1}
        assert r.headers["x-model-version"] == "1"
        bad = httpx.post(f"{base}/predict", json={"instances": [[0.0]]})
        assert bad.status_code == 400
        assert "error" in bad.json()
    finally:
        # uvicorn drains, then re-raises the signal so the exit status tells why it ended
        assert stop_serve(proc) in (0, -signal.SIGTERM)


def test_serve_refuses_a_pickled_model_without_trust(cli, project: Path) -> None:
    (project / "register.py").write_text(REGISTER)
    subprocess.run([sys.executable, "register.py"], cwd=project, check=True)
    refused = cli("serve", "opaque:1", "--port", str(free_port()), ok=False)
    assert refused.returncode == 1
    assert "saved with pickle" in refused.stderr
    assert "trust_pickle" in refused.stderr or "--trust-pickle" in refused.stderr

    proc, base = start_serve(project, "opaque:1", "--trust-pickle")
    try:
        r = httpx.post(f"{base}/predict", json={"instances": [[1.0, 2.0]]})
        assert r.json()["predictions"] == [7]
    finally:
        stop_serve(proc)


def test_serve_unknown_model(cli) -> None:
    proc = cli("serve", "ghost@production", ok=False)
    assert proc.returncode == 1
    assert "No model named 'ghost'" in proc.stderr
