"""The dashboard's Starlette app: routes, static files, the 404 and error pages.

Example::

    from dockyard.dashboard import create_app
    import uvicorn

    uvicorn.run(create_app(token="s3cret"), host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from dockyard.dashboard import data, deployments, models, runs
from dockyard.dashboard._core import Dashboard, NotFound

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from dockyard.stacks.stack import Stack

__all__ = ["create_app"]

Page = Callable[[Dashboard, "Request"], "Response"]


def _home(dash: Dashboard, request: Request) -> Response:
    md = dash.stack.metadata_store
    recent = md.page_runs(limit=10).runs
    model_list = dash.stack.registry_store.list_models()[:10]
    deployed = dash.stack.deployment_store.list_deployments()[:10]
    return dash.render(
        request,
        "home.html",
        title="dockyard",
        recent=recent,
        models=model_list,
        deployments=deployed,
        empty=not recent and not model_list and not deployed,
    )


def _error_response(dash: Dashboard, request: Request, exc: Exception) -> Response:
    from dockyard.errors import DockyardError, MetadataUnavailableError

    if isinstance(exc, NotFound | KeyError) and isinstance(exc, DockyardError):
        return dash.not_found(request, exc)
    if isinstance(exc, MetadataUnavailableError | ConnectionError):
        return dash.error(request, exc, 503)
    if isinstance(exc, DockyardError):
        return dash.error(request, exc, 400)
    raise exc


def _page(dash: Dashboard, fn: Page) -> Callable[[Request], Awaitable[Response]]:
    """A sync page run in the thread pool, its dockyard errors turned into pages."""
    from starlette.concurrency import run_in_threadpool

    @functools.wraps(fn)
    async def endpoint(request: Request) -> Response:
        try:
            return await run_in_threadpool(fn, dash, request)
        except Exception as exc:
            return _error_response(dash, request, exc)

    return endpoint


def _action(dash: Dashboard) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await deployments.action(dash, request)
        except Exception as exc:
            from starlette.responses import JSONResponse

            from dockyard.errors import DockyardError

            if isinstance(exc, KeyError) and isinstance(exc, DockyardError):
                return JSONResponse({"error": str(exc)}, status_code=404)
            if isinstance(exc, DockyardError):
                return JSONResponse({"error": str(exc)}, status_code=400)
            raise

    return endpoint


def create_app(stack: str | Stack | None = None, *, token: str | None = None) -> Starlette:
    """The dashboard over ``stack``'s stores (None: the active stack).

    Args:
        token: when set, the Promote and Abort actions need ``Authorization: Bearer
            TOKEN`` (401 without it); pages never contain it.
    """
    from starlette.applications import Starlette
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    dash = Dashboard(stack, token=token)
    pages: list[tuple[str, Page]] = [
        ("/", _home),
        ("/runs", runs.runs_page),
        ("/runs/{run_id}", runs.run_page),
        ("/runs/{run_id}/steps/{name}", runs.step_page),
        ("/compare", runs.compare_page),
        ("/models", models.models_page),
        ("/models/{name}", models.model_page),
        ("/models/{name}/{version:int}/lineage", models.lineage_page),
        ("/deployments", deployments.deployments_page),
        ("/deployments/{name}", deployments.deployment_page),
        ("/deployments/{name}/live", deployments.live),
        ("/lake", data.lake_page),
        ("/lake/{zone}/{name}", data.dataset_page),
        ("/batch", data.batch_page),
        ("/events", data.events_page),
    ]
    routes: list[Any] = [Route(path, _page(dash, fn), methods=["GET"]) for path, fn in pages]
    routes.append(
        Route("/deployments/{name}/{action}", _action(dash), methods=["POST"], name="action")
    )
    static = files("dockyard.dashboard") / "static"
    routes.append(Mount("/static", StaticFiles(directory=str(static)), name="static"))

    async def not_found(request: Request, exc: Exception) -> Response:
        return dash.not_found(request, NotFound(f"No page {request.url.path!r}."))

    app = Starlette(routes=routes, exception_handlers={404: not_found})
    app.state.dashboard = dash
    return app
