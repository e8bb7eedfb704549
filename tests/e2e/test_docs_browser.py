"""``/docs`` in a real browser, offline: ``dockyard serve`` as a user runs it, and Debian's
chromium (headless, every host but 127.0.0.1 unresolvable) must render the served model's
inference operations. FastAPI's page loaded its script from a CDN: without internet
access (common where models are served) it was a blank page.

Skips when chromium is not installed (``apt-get install -y chromium``); fails instead
under ``DOCKYARD_REQUIRE_SERVICES=1``, as CI runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import REQUIRE_SERVICES, start_serve, stop_serve

REGISTER = """
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from dockyard import register_model

data = load_wine(as_frame=True)
def fit(x):
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, data.target)

register_model("wine", fit(data.data), sample=data.data)  # the signature names 13 columns
register_model("plain", fit(data.data.to_numpy()))  # no sample: the fitted model's width
"""


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    message = "chromium is not installed (apt-get install -y chromium)"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and DOCKYARD_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def dump_dom(browser: str, url: str, profile: Path) -> str:
    """The page after its scripts ran (virtual time lets them fetch and render)."""
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            # offline: a CDN (or any host but this one) does not resolve
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_docs_page_lists_the_inference_operations_offline(
    cli: object, project: Path, tmp_path: Path
) -> None:
    browser = chromium()
    (project / "register.py").write_text(REGISTER)
    subprocess.run([sys.executable, "register.py"], cwd=project, check=True, timeout=120)
    for ref, name in (("wine:1", "wine"), ("plain:1", "plain")):
        proc, base = start_serve(project, ref)
        try:
            assert proc.poll() is None, f"dockyard serve {ref} ended: {proc.communicate()[1]}"
            dom = dump_dom(browser, f"{base}/docs", tmp_path / f"chromium-{name}")
        finally:
            stop_serve(proc)
        for path in (f"/v2/models/{name}/infer", f"/v2/models/{name}/versions/1/infer", "/predict"):
            assert f'data-path="{path}"' in dom, f"{path} is not on the page:\n{dom[:2000]}"
        assert "opblock-tag-section" in dom  # Swagger UI rendered its operation groups
