"""The MetadataStore contract (:mod:`dockyard.testing.metadata_store`) on every adapter.

Adapters: SQLite file, SQLite in memory, PostgreSQL (a fresh database per test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockyard.metadata import MetadataStore
from dockyard.metadata.sql_store import SqlMetadataStore
from dockyard.testing import MetadataStoreContract


class _SqlMetadataStoreSuite(MetadataStoreContract):
    """The contract plus what the SQL adapter adds, for a database at ``url``."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def make_store(self, url: str) -> Callable[[], MetadataStore]:
        return lambda: SqlMetadataStore(url)

    def test_describe_shows_the_url_with_the_password_masked(self, url: str) -> None:
        """``dockyard stack show`` prints describe(): it must recreate the store but never
        leak a password into terminals or CI logs."""
        if "://postgres@" in url:  # the test server trusts any password
            url = url.replace("://postgres@", "://postgres:s3cret@")
        store = SqlMetadataStore(url)
        try:
            described = store.describe()
        finally:
            store.close()
        assert described["flavor"] == "sql"
        assert "s3cret" not in described["url"]
        assert described["url"] == url.replace(":s3cret@", ":***@")


class TestSqliteFile(_SqlMetadataStoreSuite):
    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path}/.dockyard/metadata.db"


class TestSqliteMemory(_SqlMetadataStoreSuite):
    supports_durability = False

    @pytest.fixture
    def url(self) -> str:
        return "sqlite:///:memory:"


@pytest.mark.postgres
class TestPostgres(_SqlMetadataStoreSuite):
    @pytest.fixture
    def url(self, postgres_url: str) -> str:
        return postgres_url

    @pytest.fixture
    def store_with_secret(self, url: str) -> Iterator[tuple[MetadataStore, str]]:
        store = SqlMetadataStore(url.replace("://postgres@", "://postgres:s3cret@"))
        yield store, "s3cret"
        store.close()
