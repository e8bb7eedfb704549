"""The lake (datasets by zone, a dataset's versions, schema, rows or files), batch jobs and
schedules, and streams (dockyard's recent events, triggers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dockyard.dashboard._core import PAGE, Dashboard, NotFound

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

#: Rows (or files) of a dataset shown; versions listed (the newest).
PREVIEW_ROWS = 20
MAX_VERSIONS = 50
#: Datasets listed at most.
MAX_DATASETS = 1000


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return text if len(text) <= 80 else text[:79] + "…"


def lake_page(dash: Dashboard, request: Request) -> Response:
    from dockyard.lake.api import open as open_lake

    lake = open_lake(dash.stack)
    zones: dict[str, list[Any]] = {}
    datasets = lake.list()[:MAX_DATASETS]
    for info in datasets:
        zones.setdefault(info.name.split("/", 1)[0], []).append(info)
    return dash.render(request, "lake.html", title="Lake", zones=zones, count=len(datasets))


def dataset_page(dash: Dashboard, request: Request) -> Response:
    from dockyard.errors import DatasetNotFoundError, LakeError
    from dockyard.lake.api import head
    from dockyard.lake.api import open as open_lake

    name = f"{request.path_params['zone']}/{request.path_params['name']}"
    version_arg = request.query_params.get("version")
    version = int(version_arg) if version_arg and version_arg.isdigit() else None
    lake = open_lake(dash.stack)
    try:
        info = lake.describe(name)
        history = lake.history(name)[-MAX_VERSIONS:]
        files = lake.files(name, version)[:PAGE] if info.kind == "files" else []
        rows = head(lake, name, PREVIEW_ROWS, version) if info.kind != "files" else []
    except (DatasetNotFoundError, LakeError) as exc:
        if isinstance(exc, DatasetNotFoundError) or not lake.exists(name):
            suffix = f" version {version}" if version is not None else ""
            raise NotFound(
                f"No lake dataset {name!r}{suffix}.", "The lake page lists every dataset."
            ) from exc
        raise
    columns = [c for c, _ in info.schema]
    return dash.render(
        request,
        "dataset.html",
        title=f"Dataset {name}",
        info=info,
        history=list(reversed(history)),
        files=files,
        columns=columns,
        rows=[[_cell(r.get(c)) for c in columns] for r in rows],
        version=version if version is not None else info.version,
        uses=dash.stack.metadata_store.find_dataset_uses(name, version, limit=PAGE),
    )


def batch_page(dash: Dashboard, request: Request) -> Response:
    from dockyard.batch.job import list_jobs
    from dockyard.schedules.api import list_schedules

    jobs = list_jobs(stack=dash.stack, limit=PAGE)
    schedules = list_schedules(store=dash.stack.component("schedule_store"))[:PAGE]
    return dash.render(
        request, "batch.html", title="Batch jobs and schedules", jobs=jobs, schedules=schedules
    )


def events_page(dash: Dashboard, request: Request) -> Response:
    from dockyard.db.outbox import Outbox
    from dockyard.events.status import consumer_status
    from dockyard.events.trigger_api import list_triggers

    events = Outbox(dash.stack.database).recent(limit=PAGE)
    triggers = list_triggers(dash.stack)[:PAGE]
    return dash.render(
        request,
        "events.html",
        title="Streams and events",
        consumers=consumer_status(dash.stack.config_dir)[:PAGE],
        drift=[e for e in reversed(events) if e.type == "dockyard.model.drift_detected"],
        events=list(reversed(events)),  # newest first
        triggers=triggers,
    )
