"""Models: the list, a model (versions, aliases, metrics chart, signatures, training data,
users) and a version's lineage graph back to the lake dataset versions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dockyard.dashboard import svg
from dockyard.dashboard._core import Dashboard, NotFound

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from dockyard.registry.store import ModelVersionRecord

#: Versions shown on a model page (newest first); older ones are counted.
MAX_VERSIONS = 50
#: Batch jobs looked at for the versions' users.
MAX_JOBS = 200


def models_page(dash: Dashboard, request: Request) -> Response:
    models = dash.stack.registry_store.list_models()
    return dash.render(request, "models.html", title="Models", models=models)


def _versions(dash: Dashboard, name: str) -> list[ModelVersionRecord]:
    from dockyard.errors import ModelNotFoundError

    try:
        versions = dash.stack.registry_store.list_model_versions(name)
    except ModelNotFoundError as exc:
        raise NotFound(f"No model {name!r}.", "The models page lists every model.") from exc
    if not versions:
        raise NotFound(f"No model {name!r}.", "The models page lists every model.")
    return versions


def _numeric(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def model_page(dash: Dashboard, request: Request) -> Response:
    from dockyard.errors import DockyardError
    from dockyard.registry.lineage import training_datasets
    from dockyard.registry.model import version_users

    name = request.path_params["name"]
    versions = sorted(_versions(dash, name), key=lambda v: v.version)
    shown = versions[-MAX_VERSIONS:]
    keys = sorted({k for v in shown for k in _numeric(v.metrics)})
    charts = [
        svg.line_chart(
            [svg.Series(k, [(v.version, _numeric(v.metrics).get(k)) for v in shown])],
            title=k,
            x_labels={v.version: f"v{v.version}" for v in shown},
        )
        for k in keys[:12]
    ]
    users = version_users(name, dash.stack)
    jobs: dict[int, list[str]] = {}
    try:
        from dockyard.batch.job import list_jobs

        for job in list_jobs(stack=dash.stack, limit=MAX_JOBS):
            if job.spec.model_name == name:
                jobs.setdefault(job.spec.model_version, []).append(job.job_id)
    except DockyardError:  # no batch store on this stack: no jobs to show
        jobs = {}
    rows = []
    for v in reversed(shown):
        try:
            trained_on = [u.ref for u in training_datasets(v, dash.stack)]
        except DockyardError:  # its run was deleted: nothing to trace
            trained_on = []
        rows.append(
            {
                "record": v,
                "trained_on": trained_on,
                "users": list(users.get(v.version, [])),
                "jobs": jobs.get(v.version, []),
            }
        )
    return dash.render(
        request,
        "model.html",
        title=f"Model {name}",
        name=name,
        rows=rows,
        charts=charts,
        hidden=len(versions) - len(shown),
        latest=versions[-1],
    )


def lineage_page(dash: Dashboard, request: Request) -> Response:
    from dockyard.errors import ModelNotFoundError, RecordNotFoundError
    from dockyard.registry.lineage import upstream_steps
    from dockyard.registry.model import get_model_version

    name = request.path_params["name"]
    ref = f"{name}:{request.path_params['version']}"
    try:
        v = get_model_version(ref, dash.stack)
    except (ModelNotFoundError, ValueError) as exc:
        raise NotFound(f"No model version {ref!r}.", f"/models/{name}") from exc
    nodes: dict[str, svg.Node] = {}
    edges: list[tuple[str, str]] = []
    model_id = f"model:{v.ref}"
    nodes[model_id] = svg.Node(model_id, v.ref, kind="model", href=f"/models/{name}")
    art_id = f"artifact:{v.artifact_id}"
    nodes[art_id] = svg.Node(art_id, v.artifact_id[:12], kind="artifact", note="model artifact")
    edges.append((art_id, model_id))
    md = dash.stack.metadata_store
    if v.run_id and v.step:
        try:
            run = md.get_run(v.run_id)
            steps = {s.name: s for s in md.list_step_runs(run.id)}
        except RecordNotFoundError:
            run, steps = None, {}
        if run is not None:
            from dockyard.dashboard.runs import _graph

            graph = _graph(run)
            wanted = upstream_steps(graph, v.step) if v.step in graph else {v.step}
            for step_name in [n for n in graph if n in wanted] or [v.step]:
                s = steps.get(step_name)
                sid = f"step:{step_name}"
                nodes[sid] = svg.Node(
                    sid,
                    step_name,
                    kind="cached" if s and s.cache_hit else (s.status if s else "notrun"),
                    href=f"/runs/{run.id}/steps/{step_name}",
                    note=f"run {run.id[:8]}",
                )
                for aid in (s.inputs if s else {}).values():
                    a = f"artifact:{aid}"
                    nodes.setdefault(a, svg.Node(a, aid[:12], kind="artifact"))
                    edges.append((a, sid))
                for out, aid in (s.outputs if s else {}).items():
                    a = f"artifact:{aid}"
                    nodes.setdefault(a, svg.Node(a, aid[:12], kind="artifact", note=out))
                    edges.append((sid, a))
            if v.step not in steps or art_id not in {
                b for a, b in edges
            }:  # registered from a step without a Model output
                edges.append((f"step:{v.step}", art_id))
            for use in md.list_dataset_uses(run.id):
                if use.step not in wanted:
                    continue
                did = f"dataset:{use.ref}"
                nodes.setdefault(
                    did,
                    svg.Node(
                        did,
                        use.dataset,
                        kind="dataset",
                        href=f"/lake/{use.dataset}",
                        note=f"version {use.version}",
                    ),
                )
                if use.direction == "input":
                    edges.append((did, f"step:{use.step}"))
                else:
                    edges.append((f"step:{use.step}", did))
    ordered = sorted(nodes.values(), key=lambda n: n.kind != "dataset")
    drawing = svg.layered_graph(ordered, list(dict.fromkeys(edges)), title=f"Lineage of {v.ref}")
    return dash.render(
        request, "lineage.html", title=f"Lineage of {v.ref}", version=v, drawing=drawing
    )
