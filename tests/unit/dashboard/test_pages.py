"""Every page of the dashboard, read as a person would read it, against a store filled by
real pipeline runs (tests/unit/dashboard/conftest.py): what is shown, what a bad address
answers, and that the action token never leaks into a page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import Filled, client_class

from dockyard.stacks.stack import clear_cache

TOKEN = "s3cret-token"


def text(html: str) -> str:
    """The page's words, tags dropped (what a reader sees, roughly)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_runs_list_shows_status_pipeline_duration_and_cache_hits(
    client: Any, filled: Filled
) -> None:
    html = client.get("/runs").text
    words = text(html)
    for run_id in [*filled.runs, filled.failed_run, filled.crashed_run]:
        assert f'href="/runs/{run_id}"' in html
    assert "crashed" in words and "failed" in words and "completed" in words
    row = re.search(rf'/runs/{filled.runs[1]}".*?</tr>', html, re.S)
    assert row is not None
    # the second training run reused load and features from the cache: 4 steps, 2 hits
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)
    assert text(cells[-2]).strip() == "4" and text(cells[-1]).strip() == "2"


def test_runs_filter_by_pipeline_and_status(client: Any, filled: Filled) -> None:
    html = client.get("/runs", params={"pipeline": "failing"}).text
    assert filled.failed_run in html and filled.runs[0] not in html
    crashed = client.get("/runs", params={"status": "crashed"}).text
    assert filled.crashed_run in crashed and filled.failed_run not in crashed
    assert "Crashed:" in crashed  # the reason, as the row's title


def test_runs_pages_by_cursor(filled: Filled) -> None:
    from dockyard.dashboard import runs as runs_pages

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(filled.root)
        mp.setenv("DOCKYARD_HOME", str(filled.root))
        mp.setattr(runs_pages, "PAGE", 2)
        from dockyard.dashboard import create_app

        with client_class()(create_app(), base_url="http://127.0.0.1") as c:
            seen: list[str] = []
            url: str | None = "/runs"
            for _ in range(5):
                html = c.get(url).text
                seen += re.findall(r'<td><a href="/runs/([0-9a-f]{32})">', html)
                nxt = re.search(r'id="next" href="([^"]+)"', html)
                url = nxt.group(1).replace("&amp;", "&") if nxt else None
                if url is None:
                    break
            assert sorted(seen) == sorted([*filled.runs, filled.failed_run, filled.crashed_run])
            bad = c.get("/runs", params={"before": "garbage"})
            assert bad.status_code == 400 and "first page" in bad.text


def test_run_page_draws_the_dag_with_cached_steps_marked(client: Any, filled: Filled) -> None:
    html = client.get(f"/runs/{filled.runs[1]}").text
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count('<g class="node') == 4
    assert '<g class="node cached" data-id="load">' in svg
    assert '<g class="node completed" data-id="train">' in svg
    assert svg.count('class="edge"') == 3  # load->features, features->train and ->evaluate
    assert "lake://curated/points@0" in html and "lake://features/points@0" in html
    assert f'href="/runs/{filled.runs[1]}/steps/evaluate"' in html


def test_failed_run_shows_its_error(client: Any, filled: Filled) -> None:
    html = client.get(f"/runs/{filled.failed_run}").text
    assert '<g class="node failed" data-id="broken">' in html
    step = client.get(f"/runs/{filled.failed_run}/steps/broken").text
    assert "this step fails on purpose" in step


def test_step_page_logs_searchable_and_outputs_previewed(client: Any, filled: Filled) -> None:
    run = filled.runs[0]
    html = client.get(f"/runs/{run}/steps/evaluate").text
    assert "evaluating" in html and "WARNING: a line to search for" in html
    assert re.search(r"<th>rows</th><td>40</td>", html)  # metrics shown as a table
    found = client.get(f"/runs/{run}/steps/evaluate", params={"q": "warning"}).text
    assert "a line to search for" in found and "evaluating\n" not in found
    table = client.get(f"/runs/{run}/steps/features").text
    assert "first 10 of 40 rows" in table and "<th>z</th>" in table
    assert "wrote" in table and "lake://features/points@0" in table
    params = client.get(f"/runs/{run}/steps/train").text
    assert "c=1.0" in params


def test_compare_runs_side_by_side(client: Any, filled: Filled) -> None:
    a, b = filled.runs
    html = client.get("/compare", params=[("run", a), ("run", b)]).text
    params = html[html.index('id="params"') : html.index("</table>", html.index('id="params"'))]
    assert 'class="differs"' in params and "0.5" in params and "1.0" in params
    assert "evaluate.metrics.c" in html and "evaluate.metrics.rows" in html
    assert "train.points" in html  # the two models differ
    durations = html[html.index('id="durations"') :]
    assert all(n in durations for n in ("load", "features", "train", "evaluate"))
    pick = client.get("/compare").text
    assert 'type="checkbox" name="run"' in pick


def test_models_and_model_page(client: Any) -> None:
    assert 'href="/models/points"' in client.get("/models").text
    html = client.get("/models/points").text
    assert html.count('<svg class="chart"') == 2  # accuracy and c across versions
    assert "lake://curated/points@0" in html  # trained on
    assert re.search(r"<td>x</td><td>FP64</td>", html)  # the signature
    assert 'href="/models/points/2/lineage"' in html


def test_lineage_graph_from_model_back_to_dataset_versions(client: Any) -> None:
    html = client.get("/models/points/1/lineage").text
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert 'data-id="model:points:1"' in svg
    assert 'data-id="step:train"' in svg and 'data-id="step:load"' in svg
    assert 'data-id="dataset:lake://curated/points@0"' in svg
    assert "step:evaluate" not in svg  # not on the way to the model


def test_lake_pages(client: Any) -> None:
    html = client.get("/lake").text
    assert "<h2>curated</h2>" in html and 'href="/lake/features/points"' in html
    page = client.get("/lake/curated/points").text
    assert re.search(r"<td>x</td><td><code>double</code></td>", page)
    assert page.count("<tr><td>") >= 20  # rows previewed
    assert "Used by runs" in page


def test_batch_jobs_show_chunks_and_rows_and_the_version_they_use(
    client: Any, filled: Filled
) -> None:
    html = client.get("/batch").text
    row = re.search(rf"<code>{filled.batch_job}</code>.*?</tr>", html, re.S)
    assert row is not None
    words = text(row.group(0))
    assert "points:2" in words and "succeeded" in words and " 1/1 " in words and " 40 " in words
    assert "lake://predictions/points" in words
    assert "No schedules" in html
    model = client.get("/models/points").text
    assert f"batch job {filled.batch_job}" in model


def test_events_and_deployments_pages_answer(client: Any) -> None:
    events = client.get("/events").text
    assert "Recent dockyard events" in events
    assert "No deployments" in client.get("/deployments").text


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/runs/0123456789abcdef", "No run '0123456789abcdef'"),
        ("/runs/nope/steps/x", "No run 'nope'"),
        ("/models/nope", "No model 'nope'"),
        ("/models/points/99/lineage", "No model version 'points:99'"),
        ("/lake/raw/nope", "No lake dataset 'raw/nope'"),
        ("/deployments/nope", "No deployment 'nope'"),
        ("/deployments/nope/live", "No deployment 'nope'"),
        ("/no/such/page", "No page '/no/such/page'"),
    ],
)
def test_unknown_things_are_a_404_page_saying_what(client: Any, path: str, words: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert words in text(r.text).replace("&#39;", "'")


def test_unknown_step_of_a_known_run(client: Any, filled: Filled) -> None:
    r = client.get(f"/runs/{filled.runs[0]}/steps/nope")
    assert r.status_code == 404 and "has no recorded step" in r.text


def test_actions_need_the_token_which_no_page_shows(client: Any, filled: Filled) -> None:
    r = client.post("/deployments/nope/abort", json={"confirm": True})
    assert r.status_code == 401 and "token" in r.json()["error"]
    r = client.post(
        "/deployments/nope/abort", json={"confirm": True}, headers={"authorization": "Bearer no"}
    )
    assert r.status_code == 401
    auth = {"authorization": f"Bearer {TOKEN}"}
    assert (
        client.post("/deployments/nope/abort", json={"confirm": True}, headers=auth).status_code
        == 404
    )
    assert client.post("/deployments/nope/abort", json={}, headers=auth).status_code == 400
    assert (
        client.post("/deployments/nope/abort", content="confirm", headers=auth).status_code == 415
    )
    assert (
        client.post("/deployments/nope/rename", json={"confirm": True}, headers=auth).status_code
        == 404
    )
    for path in ["/", "/runs", f"/runs/{filled.runs[0]}", "/models/points", "/deployments"]:
        assert TOKEN not in client.get(path).text


def test_empty_project_says_how_to_start(project: Path) -> None:
    from dockyard.dashboard import create_app

    clear_cache()
    try:
        with client_class()(create_app(), base_url="http://127.0.0.1") as c:
            for path in ["/", "/runs"]:
                r = c.get(path)
                assert r.status_code == 200 and "dockyard run pipeline.py:training" in r.text
            assert "No models yet" in c.get("/models").text
            assert "The lake is empty" in c.get("/lake").text
            assert "No schedules" in c.get("/batch").text
            assert "No events yet" in c.get("/events").text
            assert "Pick two or more runs" in c.get("/compare").text
    finally:
        clear_cache()


def test_search_goes_to_a_run_or_a_pipeline(client: Any, filled: Filled) -> None:
    r = client.get("/runs", params={"q": filled.runs[0][:8]}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/runs/{filled.runs[0]}"
    r = client.get("/runs", params={"q": "training"}, follow_redirects=False)
    assert r.headers["location"] == "/runs?pipeline=training"
    r = client.get("/runs", params={"q": "train"})
    assert (
        r.status_code == 404 and "Pipelines with &#39;train&#39; in their name: training" in r.text
    )


def test_an_unset_token_variable_stops_the_command_with_one_line(project: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "DASH_NOPE"}
    proc = subprocess.run(
        [sys.executable, "-m", "dockyard", "dashboard", "--token-env", "DASH_NOPE"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 1
    assert "DASH_NOPE is not set or is empty" in proc.stderr and "Traceback" not in proc.stderr


def test_a_crashed_run_says_so_and_why(client: Any, filled: Filled) -> None:
    r = client.get(f"/runs/{filled.crashed_run}")
    assert r.status_code == 200
    assert '<span class="status crashed">crashed</span>' in r.text
    assert "Crashed: the process running it" in r.text


def test_streams_show_consumers_dead_letters_and_drift(client: Any, filled: Any) -> None:
    """The Streams page lists each consumer with its rate, lag, dead letters (with their
    reasons) and p99 (a real consumer, run here on the in-memory bus), and the drift
    alerts consumers recorded."""
    import asyncio
    import json

    from dockyard.db.outbox import record_event
    from dockyard.events import Outgoing, consume, open_bus
    from dockyard.stacks.stack import load_stack

    url = "memory://dashboard-streams"

    async def publish() -> None:
        async with await open_bus(url) as bus:
            good = [
                Outgoing(
                    json.dumps({"id": i, "features": {"x": float(i), "z": 2.0 * i}}).encode(),
                    str(i),
                )
                for i in range(40)
            ]
            await bus.publish_many("points.events", [*good, Outgoing(b"{oops", "bad")])

    asyncio.run(publish())
    stats = consume("points:2", bus=url, input="points.events", output="points.out",
                    name="scorer-1", max_messages=41, idle_exit_s=1.0)  # fmt: skip
    assert (stats.scored, stats.dead_lettered) == (40, 1)
    database = load_stack().database
    with database.transaction() as conn:
        record_event(
            database, conn, "dockyard.model.drift_detected", source="/models/points",
            subject="2", key=("drift-test",),
            data={"name": "points", "version": 2, "consumer": "scorers/scorer-1", "rows": 1000,
                  "prediction_js": 0.31, "reasons": ["input 'x': PSI 2.100 > 0.25"]},
        )  # fmt: skip
    html = client.get("/events").text
    assert "scorers/scorer-1" in html and "points:2" in html and "stopped" in html
    assert ">40<" in html and "bad: unparseable JSON" in html
    assert "Drift alerts" in html and "input &#39;x&#39;: PSI 2.100 &gt; 0.25" in html
