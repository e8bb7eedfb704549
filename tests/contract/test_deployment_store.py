"""The DeploymentStore contract (:mod:`dockyard.testing.deployment_store`) on every adapter.

Adapters: SQLite file and PostgreSQL (a fresh database per test).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.rollout.sql_store import SqlDeploymentStore
from dockyard.rollout.store import DeploymentStore
from dockyard.testing import DeploymentStoreContract


class TestSqliteFile(DeploymentStoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> Callable[[], DeploymentStore]:
        url = f"sqlite:///{tmp_path}/.dockyard/metadata.db"
        return lambda: SqlDeploymentStore(url)


@pytest.mark.postgres
class TestPostgres(DeploymentStoreContract):
    @pytest.fixture
    def make_store(self, postgres_url: str) -> Callable[[], DeploymentStore]:
        return lambda: SqlDeploymentStore(postgres_url)
