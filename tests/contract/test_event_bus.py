"""The EventBus contract (:mod:`dockyard.testing.event_bus`) on every built-in adapter
but Kafka (no broker here): memory, Redis Streams, NATS JetStream, RabbitMQ."""

from __future__ import annotations

import uuid

import pytest

from dockyard.testing import EventBusContract


class TestMemoryBus(EventBusContract):
    ack_wait = 0.3

    @pytest.fixture
    def bus_url(self) -> str:
        return f"memory://contract-{uuid.uuid4().hex[:8]}"


@pytest.mark.redis
class TestRedisBus(EventBusContract):
    ack_wait = 0.5

    @pytest.fixture
    def bus_url(self, redis_url: str) -> str:
        return redis_url


@pytest.mark.nats
class TestNatsBus(EventBusContract):
    ack_wait = 1.0
    redelivers_own_at_once = False  # JetStream cannot tell whose a pending message was

    @pytest.fixture
    def bus_url(self, nats_url: str) -> str:
        return nats_url


@pytest.mark.rabbitmq
class TestRabbitMQBus(EventBusContract):
    ack_wait = 0.2  # RabbitMQ redelivers when a channel closes, not after a time
    keeps_history = False  # a queue gets only what is published once it is bound

    @pytest.fixture
    def bus_url(self, rabbitmq_url: str) -> str:
        return rabbitmq_url
