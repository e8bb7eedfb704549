"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc``, with no CDN.

FastAPI's own pages load their script and styles from a public CDN, so on a machine
without internet access (common where models are served) they render a blank page.
These load them from this server: the files ship in the ``fastapi-offline`` package (a
dependency of ``dockyard[serving]``; Swagger UI 5, which reads OpenAPI 3.1), served under
``/docs/assets``. If the package is missing, the pages answer 503 saying so; the model is
served either way.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS_PATH", "add_docs_routes", "assets_dir"]

log = logging.getLogger(__name__)

#: Where the pages' scripts, styles and icon are served.
ASSETS_PATH = "/docs/assets"
_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")


def assets_dir() -> Path | None:
    """The folder of the documentation assets (package data of ``fastapi-offline``), or
    None when the package or a file is missing. Found without importing the package."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    return folder if all((folder / name).is_file() for name in _ASSETS) else None


def add_docs_routes(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """``/docs``, ``/docs/oauth2-redirect``, ``/redoc`` and the assets, on ``app``
    (created with ``docs_url=None, redoc_url=None``)."""
    folder = assets_dir()
    if folder is None:
        log.warning(
            "the documentation pages' assets (package fastapi-offline) are missing: /docs "
            "and /redoc answer 503; install dockyard[serving] to have them"
        )
    else:
        app.mount(ASSETS_PATH, StaticFiles(directory=folder), name="docs-assets")
    redirect = "/docs/oauth2-redirect"

    def missing() -> Response:
        return Response(
            b'{"error":"the documentation assets are not installed: pip install '
            b"'dockyard[serving]' (package fastapi-offline)\"}",
            503,
            media_type="application/json",
        )

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> Response:
        if folder is None:
            return missing()
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            oauth2_redirect_url=root + redirect,
        )

    @app.get(redirect, include_in_schema=False)
    async def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> Response:
        if folder is None:
            return missing()
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
