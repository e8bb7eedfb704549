"""Deployments: the list, a deployment (versions, weights, decisions, live charts) and its
two operator actions, Promote and Abort.

The live chart: the page's script asks ``/deployments/NAME/live`` every second; each
answer reads ``rollout.status(NAME)`` (the gateway's figures over its control socket), adds
a sample to the deployment's buffer (shared by every viewer) and returns the figures with
the charts drawn here as SVG, so the page is at most one poll (1 s) plus one answer behind.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from dockyard.dashboard import svg
from dockyard.dashboard._core import Dashboard, NotFound, when

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from dockyard.rollout.views import DeploymentStatus

#: Decisions shown on a deployment page (the newest).
HISTORY = 100
#: A new sample is taken at most this often, however many viewers poll.
SAMPLE_EVERY_S = 0.5
CHARTS = (
    ("rate", "requests/s"),
    ("error_rate", "error rate"),
    ("p99_ms", "p99 latency (ms)"),
    ("divergence", "prediction divergence (JS)"),
)


def _status(dash: Dashboard, name: str, *, live: bool) -> DeploymentStatus:
    from dockyard.errors import RecordNotFoundError
    from dockyard.rollout.views import status

    try:
        return status(name, stack=dash.stack, live=live)
    except RecordNotFoundError as exc:
        raise NotFound(
            f"No deployment {name!r}.", "The deployments page lists every deployment."
        ) from exc


def deployments_page(dash: Dashboard, request: Request) -> Response:
    records = dash.stack.deployment_store.list_deployments()
    rows = [_status(dash, r.name, live=False) for r in records[:200]]
    return dash.render(request, "deployments.html", title="Deployments", rows=rows)


def _sample(dash: Dashboard, name: str) -> tuple[DeploymentStatus, list[dict[str, Any]]]:
    now = _status(dash, name, live=True)
    buf = dash.buffer(name)
    t = time.time()
    with buf.lock:
        last = buf.samples[-1] if buf.samples else None
        if last is None or t - last["t"] >= SAMPLE_EVERY_S:
            sample: dict[str, Any] = {"t": t, "versions": {}}
            for v in now.versions:
                figures = {
                    "requests": v.requests,
                    "error_rate": v.error_rate,
                    "p99_ms": v.p99_ms,
                    "divergence": v.divergence,
                    "rate": None,
                }
                before = (last or {}).get("versions", {}).get(v.ref)
                if before and v.requests is not None and before["requests"] is not None:
                    delta = v.requests - before["requests"]
                    # the analysis window was rotated: the count starts again
                    figures["rate"] = delta / (t - last["t"]) if delta >= 0 else None  # type: ignore[index]
                sample["versions"][v.ref] = figures
            buf.samples.append(sample)
        samples = list(buf.samples)
    return now, samples


def _charts(samples: list[dict[str, Any]]) -> dict[str, str]:
    if not samples:
        return {key: svg.line_chart([], title=title) for key, title in CHARTS}
    t_end = samples[-1]["t"]
    refs = list(dict.fromkeys(ref for s in samples for ref in s["versions"]))
    out = {}
    for key, title in CHARTS:
        series = [
            svg.Series(
                ref,
                [
                    (s["t"] - t_end, (s["versions"].get(ref) or {}).get(key))
                    for s in samples
                    if ref in s["versions"]
                ],
            )
            for ref in refs
        ]
        out[key] = svg.line_chart(
            series,
            title=title,
            y_min=0.0,
            x_labels={samples[0]["t"] - t_end: f"{samples[0]['t'] - t_end:.0f} s", 0.0: "now"},
        )
    return out


def deployment_page(dash: Dashboard, request: Request) -> Response:
    from dockyard.rollout.views import history

    name = request.path_params["name"]
    now, samples = _sample(dash, name)
    events = history(name, limit=HISTORY, stack=dash.stack)
    return dash.render(
        request,
        "deployment.html",
        title=f"Deployment {name}",
        d=now,
        events=list(reversed(events)),
        charts=_charts(samples),
    )


def live(dash: Dashboard, request: Request) -> Response:
    from starlette.responses import JSONResponse

    from dockyard.rollout.views import history

    name = request.path_params["name"]
    now, samples = _sample(dash, name)
    events = history(name, limit=10, stack=dash.stack)
    versions = [
        {
            "role": v.role,
            "ref": v.ref,
            "version": v.version,
            "weight": v.weight,
            "mirror": v.mirror,
            "requests": v.requests,
            "error_rate": v.error_rate,
            "p99_ms": v.p99_ms,
            "divergence": v.divergence,
        }
        for v in now.versions
    ]
    return JSONResponse(
        {
            "at": time.time(),
            "model": now.model,
            "phase": now.phase,
            "weight": now.weight,
            "stable": now.stable,
            "candidate": now.candidate,
            "step": now.step,
            "next_decision": now.next_decision,
            "gateway_up": now.gateway_up,
            "versions": versions,
            "events": [
                {"id": e.id, "at": when(e.created_at), "kind": e.kind, "reason": e.reason}
                for e in reversed(events)
            ],
            "charts": _charts(samples),
        },
        headers={"cache-control": "no-store"},
    )


async def action(dash: Dashboard, request: Request) -> Response:
    """POST ``/deployments/NAME/promote|abort`` with JSON ``{"confirm": true}``.

    JSON only: a browser sends it cross-site only after a CORS preflight this server never
    grants, so another page cannot press the buttons for a visitor.
    """
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse

    from dockyard.rollout.api import abort, promote

    name, kind = request.path_params["name"], request.path_params["action"]
    if kind not in ("promote", "abort"):
        raise NotFound(f"No action {kind!r}: promote or abort.")
    if not dash.authorized(request):
        return JSONResponse(
            {"error": "This dashboard needs its token to act: send Authorization: Bearer TOKEN."},
            status_code=401,
            headers={"www-authenticate": "Bearer"},
        )
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return JSONResponse({"error": 'Send JSON: {"confirm": true}.'}, status_code=415)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("confirm") is not True:
        return JSONResponse(
            {"error": f'Confirm the {kind}: send {{"confirm": true}}.'}, status_code=400
        )
    await run_in_threadpool(_status, dash, name, live=False)  # 404 for an unknown name
    fn = promote if kind == "promote" else abort
    after = await run_in_threadpool(fn, name, stack=dash.stack)
    return JSONResponse({"ok": True, "action": kind, "deployment": name, "after_event": after})
