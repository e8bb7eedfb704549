"""The BatchStore contract (:mod:`dockyard.testing.batch_store`) on every adapter.

Adapters: SQLite file and PostgreSQL (a fresh database per test).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.batch.sql_store import SqlBatchStore
from dockyard.batch.store import BatchStore
from dockyard.testing import BatchStoreContract


class TestSqliteFile(BatchStoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> Callable[[], BatchStore]:
        url = f"sqlite:///{tmp_path}/.dockyard/metadata.db"
        return lambda: SqlBatchStore(url)


@pytest.mark.postgres
class TestPostgres(BatchStoreContract):
    @pytest.fixture
    def make_store(self, postgres_url: str) -> Callable[[], BatchStore]:
        return lambda: SqlBatchStore(postgres_url)
