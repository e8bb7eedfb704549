"""Runs: the list (filtered, keyset-paged), a run (DAG or timeline, steps), a step
(parameters, logs, outputs, datasets) and the comparison of runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from dockyard.dashboard import previews, svg
from dockyard.dashboard._core import PAGE, Dashboard, NotFound

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from dockyard.metadata.base import RunRecord, StepRunRecord

STATUSES = ("running", "completed", "failed", "crashed")
#: Runs compared side by side at most.
MAX_COMPARED = 8
#: Log text shown for a step (the end, where errors are).
LOG_CHARS = 200_000


def _run(dash: Dashboard, run_id: str) -> RunRecord:
    from dockyard.errors import RecordNotFoundError

    try:
        return dash.stack.metadata_store.get_run(run_id)
    except RecordNotFoundError as exc:
        raise NotFound(f"No run {run_id!r}.", "The runs page lists every run.") from exc


def _search(dash: Dashboard, query: str) -> Response:
    """A run id (or unique prefix) goes to that run; a pipeline's name filters by it."""
    from starlette.responses import RedirectResponse

    from dockyard.errors import RecordNotFoundError

    md = dash.stack.metadata_store
    try:
        run = md.get_run(query)
    except RecordNotFoundError:
        pass
    else:
        return RedirectResponse(f"/runs/{run.id}", status_code=303)
    names = md.list_pipelines(limit=1000)
    if query in names:
        return RedirectResponse(f"/runs?{urlencode({'pipeline': query})}", status_code=303)
    close = [n for n in names if query.lower() in n.lower()][:10]
    hint = f" Pipelines with {query!r} in their name: {', '.join(close)}." if close else ""
    raise NotFound(f"No run or pipeline {query!r}.{hint}", "/runs")


def runs_page(dash: Dashboard, request: Request) -> Response:
    md = dash.stack.metadata_store
    q = request.query_params
    query = (q.get("q") or "").strip()
    if query:
        return _search(dash, query)
    pipeline = q.get("pipeline") or None
    status = q.get("status") or None
    if status is not None and status not in STATUSES:
        status = None
    page = md.page_runs(
        pipeline=pipeline,
        status=status,  # type: ignore[arg-type]
        before=q.get("before") or None,
        limit=PAGE,
    )
    next_url = None
    if page.next_cursor:
        args = {"pipeline": pipeline or "", "status": status or "", "before": page.next_cursor}
        next_url = "/runs?" + urlencode({k: v for k, v in args.items() if v})
    return dash.render(
        request,
        "runs.html",
        title="Runs",
        page=page,
        pipelines=md.list_pipelines(),
        pipeline=pipeline,
        status=status,
        statuses=STATUSES,
        next_url=next_url,
        first_page=q.get("before") is None,
    )


def _graph(run: RunRecord) -> dict[str, list[str]]:
    from dockyard.pipelines.plan import RunPlan

    try:
        return RunPlan.from_dict(run.spec).graph()
    except (KeyError, TypeError, ValueError):  # a plan of another shape: no edges
        return {name: [] for name in run.spec.get("invocations", {})}


def _step_kind(step: StepRunRecord | None, run: RunRecord) -> str:
    if step is None:
        return "pending" if run.status == "running" else "notrun"
    return "cached" if step.cache_hit else step.status


def run_page(dash: Dashboard, request: Request) -> Response:
    md = dash.stack.metadata_store
    run = _run(dash, request.path_params["run_id"])
    steps = {s.name: s for s in md.list_step_runs(run.id)}
    graph = _graph(run)
    names = list(graph) or list(steps)
    base = f"/runs/{run.id}/steps/"
    if len(names) > svg.TIMELINE_ABOVE:
        t0 = run.created_at
        bars = []
        for name in names:
            s = steps.get(name)
            if s is None or s.started_at is None:
                continue
            start = (s.started_at - t0).total_seconds()
            end = (s.ended_at - t0).total_seconds() if s.ended_at else start
            bars.append(
                svg.Bar(name, max(0.0, start), max(0.0, end), _step_kind(s, run), base + name)
            )
        drawing, view = svg.timeline(bars), "timeline"
    else:
        nodes = [
            svg.Node(
                name,
                name,
                kind=_step_kind(steps.get(name), run),
                href=base + name,
                note="cached" if (s := steps.get(name)) and s.cache_hit else None,
            )
            for name in names
        ]
        edges = [(up, name) for name, ups in graph.items() for up in ups]
        drawing, view = svg.layered_graph(nodes, edges, title=f"DAG of run {run.id}"), "graph"
    rows = []
    for name in names:
        s = steps.get(name)
        rows.append({"name": name, "record": s, "kind": _step_kind(s, run)})
    invocations = run.spec.get("invocations", {})
    return dash.render(
        request,
        "run.html",
        title=f"Run {run.id[:8]}",
        run=run,
        rows=rows,
        drawing=drawing,
        view=view,
        invocations=invocations,
        datasets=md.list_dataset_uses(run.id),
        cached=sum(1 for s in steps.values() if s.cache_hit),
    )


def step_page(dash: Dashboard, request: Request) -> Response:
    from dockyard.errors import RecordNotFoundError

    md = dash.stack.metadata_store
    run = _run(dash, request.path_params["run_id"])
    name = request.path_params["name"]
    try:
        step = md.get_step_run(run.id, name)
    except RecordNotFoundError as exc:
        raise NotFound(
            f"Run {run.id[:8]} has no recorded step {name!r}.", f"/runs/{run.id}"
        ) from exc
    logs = md.get_step_logs(run.id, name)
    truncated = len(logs) > LOG_CHARS
    logs = logs[-LOG_CHARS:]
    query = request.query_params.get("q", "")
    lines = logs.splitlines()
    if query:
        lines = [line for line in lines if query.lower() in line.lower()]
    outputs = []
    for out_name, artifact_id in step.outputs.items():
        record = md.get_artifact(artifact_id)
        outputs.append((out_name, record, previews.preview(record, dash.stack)))
    inputs = [(n, md.get_artifact(a)) for n, a in step.inputs.items()]
    inv = run.spec.get("invocations", {}).get(name, {})
    return dash.render(
        request,
        "step.html",
        title=f"{name} · run {run.id[:8]}",
        run=run,
        step=step,
        params=inv.get("params", {}),
        lines=lines,
        query=query,
        truncated=truncated,
        outputs=outputs,
        inputs=inputs,
        datasets=md.list_dataset_uses(run.id, name),
    )


def compare_page(dash: Dashboard, request: Request) -> Response:
    md = dash.stack.metadata_store
    ids = [i for i in request.query_params.getlist("run") if i][:MAX_COMPARED]
    if len(ids) < 2:
        recent = md.page_runs(limit=PAGE).runs
        return dash.render(request, "compare_pick.html", title="Compare runs", recent=recent)
    runs = [_run(dash, i) for i in ids]
    steps = [{s.name: s for s in md.list_step_runs(r.id)} for r in runs]
    param_keys = sorted({k for r in runs for k in r.params})
    params = [
        (k, [r.params.get(k) for r in runs], len({repr(r.params.get(k)) for r in runs}) > 1)
        for k in param_keys
    ]
    step_names = list(dict.fromkeys(n for s in steps for n in s))
    durations = [(n, [s[n].duration_s if n in s else None for s in steps]) for n in step_names]
    metrics: dict[str, list[float | None]] = {}
    differing: list[tuple[str, list[str | None]]] = []
    cache: dict[str, Any] = {}
    for n in step_names:
        out_names = list(dict.fromkeys(o for s in steps if n in s for o in s[n].outputs))
        for o in out_names:
            ids_ = [s[n].outputs.get(o) if n in s else None for s in steps]
            if len(set(ids_)) > 1:
                differing.append((f"{n}.{o}", ids_))
            for i, aid in enumerate(ids_):
                if aid is None:
                    continue
                if aid not in cache:
                    record = md.get_artifact(aid)
                    ok, value = previews.load_small(record, dash.stack)
                    cache[aid] = previews.metrics_of(value) if ok else None
                for key, v in (cache[aid] or {}).items():
                    metrics.setdefault(f"{n}.{o}.{key}", [None] * len(runs))[i] = v
    return dash.render(
        request,
        "compare.html",
        title="Compare runs",
        runs=runs,
        params=params,
        durations=durations,
        metrics=sorted(metrics.items()),
        differing=differing,
    )
