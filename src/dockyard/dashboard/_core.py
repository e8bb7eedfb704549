"""What every page shares: the stack, the token check, templates, the 404 and error pages.

The dashboard is a front end: it calls the contexts' Python APIs (the stores' list and
get methods, ``rollout.status``, ``lake.open``, ...) and reads no table. Pages are plain
functions ``(dashboard, request) -> Response`` run by Starlette in its thread pool (the
stores are synchronous).
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from dockyard.errors import DockyardError

if TYPE_CHECKING:
    from jinja2 import Environment
    from starlette.requests import Request
    from starlette.responses import Response

    from dockyard.stacks.stack import Stack

#: Rows shown by a list page; every list endpoint is limited (no unbounded query).
PAGE = 50
#: Samples of live figures kept per deployment (at one a second: two minutes).
LIVE_SAMPLES = 120


class NotFound(DockyardError, KeyError):
    """A page about something that does not exist: rendered as a 404 naming it."""

    def __init__(self, what: str, hint: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.hint = hint

    def __str__(self) -> str:
        return self.what


@dataclass
class LiveBuffer:
    """Recent live samples of one deployment, shared by every viewer of its page."""

    samples: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LIVE_SAMPLES))
    lock: threading.Lock = field(default_factory=threading.Lock)


def _ago(value: datetime | None) -> str:
    if value is None:
        return "-"
    s = (datetime.now(UTC) - value.astimezone(UTC)).total_seconds()
    if s < 90:
        return f"{s:.0f} s ago"
    if s < 5400:
        return f"{s / 60:.0f} min ago"
    if s < 129600:
        return f"{s / 3600:.0f} h ago"
    return f"{s / 86400:.0f} days ago"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _epoch(value: float | None) -> str:
    """A Unix time (a consumer's status file) as :func:`when` shows times."""
    return when(None if value is None else datetime.fromtimestamp(value, UTC))


def when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


class Dashboard:
    """The state of one dashboard server: its stack, token, templates and live buffers.

    Args:
        stack: the stack whose stores are shown (a name, a built stack, None: active).
        token: when set, Promote and Abort need ``Authorization: Bearer <token>``.
    """

    def __init__(self, stack: str | Stack | None = None, *, token: str | None = None) -> None:
        self._stack_arg = stack
        self._stack: Stack | None = None
        self._stack_lock = threading.Lock()
        self.token = token or None
        self.started = time.time()
        self.live: dict[str, LiveBuffer] = {}
        self._live_lock = threading.Lock()
        self.templates = self._environment()

    @property
    def stack(self) -> Stack:
        with self._stack_lock:
            if self._stack is None:
                from dockyard.stacks.stack import Stack, load_stack

                arg = self._stack_arg
                self._stack = arg if isinstance(arg, Stack) else load_stack(arg)
            return self._stack

    def buffer(self, name: str) -> LiveBuffer:
        with self._live_lock:
            return self.live.setdefault(name, LiveBuffer())

    def _environment(self) -> Environment:
        from jinja2 import Environment, FileSystemLoader, select_autoescape

        folder = files("dockyard.dashboard") / "templates"
        env = Environment(
            loader=FileSystemLoader(str(folder)),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(ago=_ago, seconds=_seconds, num=_number, when=when, epoch=_epoch)
        return env

    # responses ----------------------------------------------------------------------
    def render(
        self, request: Request, template: str, status_code: int = 200, **context: Any
    ) -> Response:
        from starlette.responses import HTMLResponse

        page = self.templates.get_template(template)
        html = page.render(
            request=request,
            path=request.url.path,
            token_required=self.token is not None,
            **context,
        )
        return HTMLResponse(html, status_code=status_code)

    def not_found(self, request: Request, error: NotFound | KeyError) -> Response:
        what = error.what if isinstance(error, NotFound) else str(error).strip("'\"")
        hint = error.hint if isinstance(error, NotFound) else ""
        return self.render(request, "error.html", 404, title="Not found", message=what, hint=hint)

    def error(self, request: Request, error: Exception, status_code: int) -> Response:
        return self.render(
            request, "error.html", status_code, title="Cannot show this", message=str(error)
        )

    # actions ------------------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        """Whether a request may act (promote, abort): always without a token."""
        if self.token is None:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.token.encode()
        )
