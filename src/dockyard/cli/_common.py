"""Helpers shared by the CLI commands: consoles, time formatting, the stack to use."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from dockyard.stacks.stack import Stack

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def esc(value: object) -> str:
    """``value`` as text for a Rich markup string: brackets in names, errors, metrics
    or parameters print as they are and never as (or break) markup."""
    return escape(str(value))


def check_port(value: int | None) -> int | None:
    """Typer callback for a TCP port option: 1 to 65535 (0 would pick one at random)."""
    if value is not None and not 1 <= value <= 65535:
        raise typer.BadParameter(f"{value} is not a TCP port; give one from 1 to 65535.")
    return value


STATUS_STYLE = {
    "completed": "green",
    "cached": "cyan",
    "running": "yellow",
    "failed": "red",
    "crashed": "magenta",
    "skipped": "dim",
    "not run": "dim",
}


def styled(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{esc(status)}[/]"


def ago(when: datetime | None) -> str:
    if when is None:
        return "-"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    secs = (datetime.now(UTC) - when).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{int(secs // size)}{unit} ago"
    return f"{int(secs)}s ago"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def stack(name: str | None = None) -> Stack:
    from dockyard.stacks.stack import load_stack

    return load_stack(name)
