"""``open_bus(url)``: the adapter for a URL's scheme, connected.

Adapters are found through the ``dockyard.event_buses`` entry-point group by scheme
(``redis://`` -> ``redis``), so a third-party broker is installed, not wired in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from dockyard import _plugins
from dockyard._urls import mask_password
from dockyard.errors import ConsumerConfigError, UnknownBusError
from dockyard.events.base import EventBus

if TYPE_CHECKING:
    from dockyard.stacks.stack import Stack

__all__ = [
    "BUSES_GROUP",
    "bus_class",
    "open_bus",
    "seconds_option",
    "stack_bus_url",
    "url_options",
    "without_query",
]

BUSES_GROUP = "dockyard.event_buses"


def bus_class(url: str) -> type[EventBus]:
    """The adapter class for ``url``'s scheme.

    Raises:
        UnknownBusError: no scheme, or none installed for it; the known ones are listed.
    """
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    known = _plugins.available(BUSES_GROUP)
    if scheme not in known:
        listed = ", ".join(f"{s}://" for s in known) or "none"
        raise UnknownBusError(
            f"Unknown event bus {mask_password(url)!r}: "
            f"{'no scheme' if not scheme else f'scheme {scheme!r} is not installed'}. "
            f"Known schemes: {listed} (e.g. redis://127.0.0.1:6379)."
        )
    cls: type[EventBus] = _plugins.load(BUSES_GROUP, scheme)
    return cls


def url_options(url: str) -> dict[str, str]:
    """Options given in a bus URL's query (``?ack_wait=5``)."""
    return dict(parse_qsl(urlsplit(url).query))


def seconds_option(url: str, name: str, value: float | str | None, default: float) -> float:
    """A positive number of seconds from a keyword option, else the URL's query, else
    ``default``.

    Raises:
        ConsumerConfigError: not a positive number.
    """
    raw = value if value is not None else url_options(url).get(name, default)
    try:
        number = float(raw)
    except (TypeError, ValueError):
        number = -1.0
    if not number > 0:
        raise ConsumerConfigError(
            f"{name} must be a positive number of seconds, got {raw!r} (bus {mask_password(url)})."
        )
    return number


def without_query(url: str) -> str:
    """``url`` without its ``?query`` (dockyard's options, not the client's)."""
    return url.split("?", 1)[0]


async def open_bus(url: str, **options: Any) -> EventBus:
    """Build the adapter for ``url`` and connect it.

    Args:
        url: ``memory://``, ``redis://HOST:PORT[/DB]``, ``nats://HOST:PORT``,
            ``amqp://USER:PASSWORD@HOST:PORT/VHOST``, ``kafka://HOST:PORT``; options may
            also be given in the query (``?ack_wait=5``).
        options: the adapter's keyword options (``ack_wait``, ...).

    Raises:
        UnknownBusError: the scheme has no adapter.
        BusUnavailableError: the broker cannot be reached.
    """
    cls: Any = bus_class(url)  # adapters take (url, **options); the ABC declares no __init__
    bus: EventBus = cls(url, **options)
    await bus.connect()
    return bus


def stack_bus_url(stack: Stack | str | None = None) -> str:
    """The URL of the stack's ``event_bus`` (``memory://`` by default)."""
    from dockyard.stacks.stack import Stack, load_stack

    s = stack if isinstance(stack, Stack) else load_stack(stack)
    config = s.component_config("event_bus")
    return str(config.get("url") or f"{config.get('flavor', 'memory')}://")
