"""Bus URLs: the adapter by scheme, and what users read when a URL cannot work."""

from __future__ import annotations

import asyncio

import pytest

from dockyard import _plugins
from dockyard.errors import BusUnavailableError, ConsumerConfigError, UnknownBusError
from dockyard.events import open_bus
from dockyard.events.memory import MemoryBus


def test_builtin_buses_are_plugins_by_scheme() -> None:
    assert {"memory", "redis", "nats", "amqp", "kafka"} <= set(
        _plugins.available("dockyard.event_buses")
    )
    assert "event_bus" in _plugins.available("dockyard.stack_kinds")


@pytest.mark.parametrize("url", ["mqtt://127.0.0.1:1883", "127.0.0.1:6379", "kafkaa://x:1"])
def test_unknown_scheme_lists_the_known_ones(url: str) -> None:
    with pytest.raises(UnknownBusError, match=r"Known schemes: .*memory://.*redis://"):
        asyncio.run(open_bus(url))


@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3cret@127.0.0.1:1/0",
        "nats://user:s3cret@127.0.0.1:1",
        "amqp://guest:s3cret@127.0.0.1:1/",
    ],
)
def test_unreachable_broker_names_the_url_with_the_password_masked(url: str) -> None:
    with pytest.raises(BusUnavailableError) as info:
        asyncio.run(open_bus(url))
    message = str(info.value)
    assert "s3cret" not in message
    assert url.replace("s3cret", "***") in message
    assert "Check that" in message
    assert isinstance(info.value, ConnectionError)


def test_options_come_from_keywords_or_the_url_query() -> None:
    assert MemoryBus("memory://?ack_wait=2.5").ack_wait == 2.5
    assert MemoryBus("memory://?ack_wait=2.5", ack_wait=1).ack_wait == 1.0
    with pytest.raises(ConsumerConfigError, match="ack_wait must be a positive number"):
        MemoryBus("memory://?ack_wait=soon")


def test_the_stack_builds_the_memory_bus_by_default(project: object) -> None:
    from dockyard.events.base import EventBus
    from dockyard.stacks.stack import clear_cache, load_stack

    clear_cache()
    try:
        assert isinstance(load_stack().component("event_bus"), EventBus)
    finally:
        clear_cache()


def test_consume_defaults_to_the_stack_event_bus(project: object) -> None:
    from pathlib import Path

    from dockyard.events.bus import stack_bus_url
    from dockyard.stacks.config import ProjectConfig
    from dockyard.stacks.stack import clear_cache

    clear_cache()
    try:
        assert stack_bus_url() == "memory://"
        config = ProjectConfig.load(Path(str(project)))
        components = {**config.stack(config.active_stack)}
        components["event_bus"] = {"flavor": "redis", "url": "redis://cache:6379/2"}
        config.register("team", components)
        config.save()
        clear_cache()
        assert stack_bus_url("team") == "redis://cache:6379/2"
    finally:
        clear_cache()
