"""The ModelRegistryStore contract (:mod:`dockyard.testing.registry_store`) on every adapter.

Adapters: SQLite file and PostgreSQL (a fresh database per test), the registry and the
metadata store sharing one :class:`~dockyard.db.Database`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.db import Database
from dockyard.metadata import MetadataStore
from dockyard.metadata.sql_store import SqlMetadataStore
from dockyard.registry import ModelRegistryStore
from dockyard.registry.sql_store import SqlRegistryStore
from dockyard.testing import RegistryStoreContract


def _stores(url: str) -> Iterator[tuple[MetadataStore, ModelRegistryStore]]:
    database = Database(url)
    try:
        yield SqlMetadataStore(database), SqlRegistryStore(database)
    finally:
        database.close()


class TestSqliteFile(RegistryStoreContract):
    @pytest.fixture
    def stores(self, tmp_path: Path) -> Iterator[tuple[MetadataStore, ModelRegistryStore]]:
        yield from _stores(f"sqlite:///{tmp_path}/metadata.db")


@pytest.mark.postgres
class TestPostgres(RegistryStoreContract):
    @pytest.fixture
    def stores(self, postgres_url: str) -> Iterator[tuple[MetadataStore, ModelRegistryStore]]:
        yield from _stores(postgres_url)
