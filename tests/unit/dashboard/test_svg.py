"""The server-drawn SVG: layout, escaping, and the timeline a large run switches to."""

from __future__ import annotations

from pathlib import Path

from dashboard_support import client_class

from dockyard import pipeline, step
from dockyard.dashboard import svg
from dockyard.stacks.stack import clear_cache


def test_layered_graph_places_nodes_by_longest_path_and_escapes_labels() -> None:
    nodes = [
        svg.Node("a", "<a&b>"),
        svg.Node("b", "b", kind="cached", note="cached"),
        svg.Node("c", "c"),
    ]
    drawing = svg.layered_graph(nodes, [("a", "b"), ("b", "c"), ("a", "c")])
    assert "&lt;a&amp;b&gt;" in drawing and "<a&b>" not in drawing
    xs = {
        n: int(drawing.split(f'data-id="{n}">', 1)[1].split('x="', 1)[1].split('"', 1)[0])
        for n in "abc"
    }
    assert xs["a"] < xs["b"] < xs["c"]  # c waits for b, so it is a column further
    assert drawing.count('class="edge"') == 3


def test_line_chart_skips_missing_points_and_draws_an_empty_frame() -> None:
    chart = svg.line_chart([svg.Series("acc", [(1, 0.5), (2, None), (3, 0.7)])], title="acc")
    assert chart.count("<circle") == 2 and "<polyline" not in chart  # a gap, no line across
    assert "no data yet" in svg.line_chart([], title="empty")


@step
def inc(x: int = 0) -> int:
    return x + 1


@pipeline
def chain(n: int = 3) -> None:
    v = inc()
    for _ in range(n - 1):
        v = inc(v)


def test_a_run_of_more_than_100_steps_is_drawn_as_a_timeline(project: Path) -> None:
    from dockyard.dashboard import create_app

    clear_cache()
    try:
        small, large = chain(n=3).id, chain(n=svg.TIMELINE_ABOVE + 20).id
        with client_class()(create_app(), base_url="http://127.0.0.1") as c:
            assert '<svg class="graph"' in c.get(f"/runs/{small}").text
            html = c.get(f"/runs/{large}").text
            assert '<svg class="timeline"' in html and '<svg class="graph"' not in html
            assert html.count('<g class="bar ') == svg.TIMELINE_ABOVE + 20
            assert html.count('<g class="bar cached">') == 3  # the small run's three steps
    finally:
        clear_cache()


def test_the_cli_and_the_package_import_no_web_framework() -> None:
    """``dockyard --help`` and every other command must not pay for Starlette and Jinja2."""
    import subprocess
    import sys

    code = (
        "import sys, dockyard.dashboard, dockyard.cli.main; "
        "print(sorted(m for m in ('starlette', 'jinja2', 'uvicorn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
