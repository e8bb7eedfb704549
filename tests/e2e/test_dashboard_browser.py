"""The dashboard in a real browser: ``dockyard dashboard`` as a user starts it, Debian's
chromium driven by Python's Playwright (``executable_path``; no browser is downloaded),
over a project filled by real pipeline runs, a lake dataset, registered models and a real
canary under client traffic.

Skips when chromium or playwright is missing; fails instead under
``DOCKYARD_REQUIRE_SERVICES=1`` (CI). A failing test leaves a screenshot of the page it was
on (``DOCKYARD_SCREENSHOTS``, else the test's temporary folder) and names it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from rollout_support import CANARY, Project, Traffic

from support import REQUIRE_SERVICES, free_port

pytestmark = pytest.mark.slow

TOKEN = "dash-token-7f3a"
FLOW = """
from typing import Annotated
from dockyard import pipeline, step


@step
def numbers(n: int = 3) -> list:
    print(f"making {n} numbers")
    print("a second line")
    return list(range(n))


@step
def total(xs: list, scale: float = 1.0) -> Annotated[dict, "metrics"]:
    return {"total": sum(xs) * scale, "count": float(len(xs))}


@pipeline
def sums(n: int = 3, scale: float = 1.0):
    total(numbers(n=n), scale=scale)
"""


def _skip_or_fail(message: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and DOCKYARD_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        _skip_or_fail("chromium is not installed (apt-get install -y chromium)")
    assert path
    return path


@contextmanager
def dashboard(proj: Project) -> Iterator[str]:
    """``dockyard dashboard`` in a subprocess, with a token; its URL once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dockyard", "dashboard", "--port", str(port), "--token-env", "DT"],
        cwd=proj.root,
        env={**proj.env, "DT": TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/runs", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the dashboard did not start: {proc.communicate()[0]}")
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@contextmanager
def browser_page(tmp_path: Path, name: str) -> Iterator[Any]:
    """A Playwright page in Debian's chromium; a screenshot is kept when the test fails."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("playwright is not installed (pip install playwright)")
    executable = _chromium()
    shots = Path(os.environ.get("DOCKYARD_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(15_000)
        try:
            yield page
        except BaseException as exc:
            shot = shots / f"{name}.png"
            try:
                page.screenshot(path=str(shot), full_page=True)
            except Exception:  # the page itself is broken: keep the test's own error
                raise exc from None
            raise AssertionError(f"{exc}\n(screenshot of {page.url}: {shot})") from exc
        finally:
            browser.close()


def _fill(proj: Project) -> None:
    (proj.root / "flow.py").write_text(FLOW)
    proj.cli("run", "flow.py:sums", "-p", "n=3")
    proj.cli("run", "flow.py:sums", "-p", "n=3", "-p", "scale=2.0")
    rows = "x,y\n" + "".join(f"{i / 10},{i % 2}\n" for i in range(30))
    (proj.root / "points.csv").write_text(rows)
    proj.cli("lake", "import", "raw/points", "points.csv")


def test_every_page_in_a_browser(proj: Project, tmp_path: Path) -> None:
    _fill(proj)
    (v1,) = proj.register("Good")
    with dashboard(proj) as url, browser_page(tmp_path, "pages") as page:
        page.goto(url + "/runs")
        rows = page.locator("#runs tr")
        assert rows.count() == 3  # header + 2 runs
        assert page.locator("#runs .status.completed").count() == 2
        assert "sums" in page.locator("#runs").inner_text()

        page.locator("#runs a").first.click()  # the newest run
        page.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"))
        dag = page.locator("#dag svg")
        assert dag.locator("g.node").count() == 2
        assert dag.locator("g.node.cached").count() == 1  # numbers(n=3) came from the cache
        page.go_back()
        page.locator("#runs a").last.click()  # the first run, where numbers ran
        page.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"))
        page.locator('#dag g.node[data-id="numbers"]').click()
        page.wait_for_url(re.compile(r"/steps/numbers$"))
        logs = page.locator("#logs")
        assert "making 3 numbers" in logs.inner_text()
        page.fill("#log-search", "second")
        assert page.locator("#logs span:visible").count() == 1
        assert "a second line" in page.locator("#logs span:visible").inner_text()

        page.goto(url + "/compare")
        for box in page.locator('input[name="run"]').all():
            box.check()
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/compare\?run="))
        assert "scale" in page.locator("#params tr.differs").inner_text()
        assert "total.metrics.total" in page.locator("#metrics").inner_text()

        page.goto(url + "/models")
        page.click("text=churn")
        assert page.locator("#versions tr").count() == 2
        page.click("text=lineage")
        assert page.locator("#lineage svg g.node.model").count() == 1

        page.goto(url + "/lake")
        page.click("text=raw/points")
        assert page.locator("#schema").inner_text().count("\n") >= 2
        assert page.locator("#rows tr").count() == 21  # header + 20 rows

        for path, heading in [("/batch", "Batch jobs"), ("/events", "Streams and events")]:
            page.goto(url + path)
            assert heading in page.locator("h1").inner_text()
        page.goto(url + "/events")
        assert page.locator("#events tr").count() > 1  # the runs and the version recorded events

        missing = page.goto(url + "/runs/ffffffffffff")
        assert missing is not None and missing.status == 404
        assert "No run 'ffffffffffff'" in page.locator("#message").inner_text()
        assert TOKEN not in page.content()
    assert v1 == 1


def test_abort_a_live_canary_from_the_deployment_page(proj: Project, tmp_path: Path) -> None:
    v1, v2 = proj.register("Good", "Good")
    api = proj.deploy_first("api", v1)
    with Traffic(api, threads=2, max_s=120) as traffic:
        proj.cli(
            "deploy",
            "api",
            "--model",
            f"churn:{v2}",
            *CANARY,
            "--steps",
            "50,100",
            "--interval",
            "300s",
            "--trust-pickle",
        )
        proj.wait(lambda: proj.state("api").routes()["weight"] == 50.0, 60, "the first step")
        with dashboard(proj) as url, browser_page(tmp_path, "abort") as page:
            page.goto(url + "/deployments/api")
            candidate = page.locator('#versions tr[data-role="candidate"]')
            candidate.wait_for()  # the live figures replaced the first render
            assert float(candidate.get_attribute("data-weight") or 0) == 50.0
            page.wait_for_function(
                "document.querySelectorAll('[data-chart=rate] polyline').length >= 2"
            )
            assert TOKEN not in page.content()

            page.click("button[data-action=abort]")
            assert "Abort" in page.locator("#confirm-text").inner_text()
            page.click("#confirm-yes")  # without the token: refused
            page.wait_for_function(
                "document.getElementById('action-result').textContent.includes('401')"
            )
            assert proj.state("api").phase == "progressing"

            page.fill("#token", TOKEN)
            clicked = time.time()
            page.click("#confirm-yes")
            page.wait_for_function(
                "document.querySelector('[data-live=phase]').textContent === 'aborted'"
            )
            shown = time.time()
            time.sleep(2.5)
    answers = traffic.answers
    late = [a for a in answers if a.started > clicked + 2.0]
    to_candidate = [a.started - clicked for a in answers if a.backend == str(v2)]
    print(
        f"\nabort from the dashboard: page showed 'aborted' {shown - clicked:.2f} s after the "
        f"click; last request to the candidate {max(to_candidate) if to_candidate else 0:.2f} s "
        "after it"
    )
    assert late and all(a.backend == str(v1) for a in late)
    assert traffic.failed() == []
    assert proj.state("api").phase == "aborted"
