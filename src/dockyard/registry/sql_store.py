"""The SQL registry store: model versions and aliases on a :class:`Database`.

It reads and writes only the registry's own tables (:mod:`dockyard.registry.tables`).
A version's artifact and run belong to the metadata context: foreign keys guarantee
they exist, and a caller that records the artifact and the version together opens one
``database.transaction()`` around both (see :func:`dockyard.registry.register_model`).

Concurrency, on both databases:

- Version numbers come from ``model_names.last_version``, raised in the same transaction
  as the insert: the raise locks the model's row (PostgreSQL) or the database (SQLite)
  until commit, so concurrent registrations get distinct numbers, and a number is never
  given twice, even after its version was deleted.
- ``set_alias`` is one upsert, under a lock on the version it points at; a delete locks
  the same row, so "alias it" and "delete it" run one after the other and the loser gets
  the registry's own error (``ModelNotFoundError`` or "in use by alias").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from dockyard.db.engine import Database
from dockyard.db.outbox import record_event
from dockyard.db.store import SqlStore
from dockyard.errors import ModelNotFoundError, RecordNotFoundError, RegistryError
from dockyard.registry import tables
from dockyard.registry.refs import check_alias, check_model_name
from dockyard.registry.signature import Signature
from dockyard.registry.store import ModelRegistryStore, ModelSummary, ModelVersionRecord

__all__ = ["SqlRegistryStore"]

_versions = tables.model_versions
_aliases = tables.model_aliases
_names = tables.model_names

_HINT = "List models with: dockyard models list"


class SqlRegistryStore(SqlStore, ModelRegistryStore):
    """Model versions and aliases on SQLAlchemy (SQLite or PostgreSQL).

    Args:
        database: the shared :class:`~dockyard.db.Database`, or a URL to open one for
            this store alone.
        **options: database options when ``database`` is a URL.
    """

    def __init__(self, database: Database | str, **options: Any) -> None:
        super().__init__(database, **options)
        self._insert_name = self.database.insert_ignore(_names)
        self._upsert_alias = self.database.upsert(_aliases, ("name", "alias"))

    def _aliases_of(self, conn: sa.Connection, name: str) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        rows = conn.execute(
            sa.select(_aliases.c.alias, _aliases.c.version)
            .where(_aliases.c.name == name)
            .order_by(_aliases.c.alias)
        )
        for alias, version in rows:
            out.setdefault(version, []).append(alias)
        return out

    def _record(self, row: Any, aliases: Mapping[int, list[str]]) -> ModelVersionRecord:
        return ModelVersionRecord(
            name=row.name,
            version=row.version,
            artifact_id=row.artifact_id,
            run_id=row.run_id,
            step=row.step,
            metrics=dict(row.metrics or {}),
            signature=Signature.from_dict(row.signature) if row.signature is not None else None,
            requirements=dict(row.requirements or {}),
            description=row.description,
            created_at=row.created_at,
            aliases=tuple(aliases.get(row.version, ())),
        )

    def _require_model(self, conn: sa.Connection, name: str) -> None:
        exists = conn.execute(
            sa.select(sa.func.count()).select_from(_versions).where(_versions.c.name == name)
        ).scalar_one()
        if not exists:
            raise ModelNotFoundError(f"No model named {name!r}. {_HINT}")

    def create_model_version(
        self,
        name: str,
        *,
        artifact_id: str,
        run_id: str | None = None,
        step: str | None = None,
        metrics: Mapping[str, Any] | None = None,
        signature: Signature | None = None,
        requirements: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> ModelVersionRecord:
        check_model_name(name)
        now = self.database.now()
        try:
            with self.database.transaction(write=True) as conn:
                version = self._next_version(conn, name)
                values = {
                    "name": name,
                    "version": version,
                    "artifact_id": artifact_id,
                    "run_id": run_id,
                    "step": step,
                    "metrics": dict(metrics or {}),
                    "signature": signature.to_dict() if signature is not None else None,
                    "requirements": dict(requirements or {}),
                    "description": description,
                    "created_at": now,
                }
                conn.execute(_versions.insert(), values)
                record_event(
                    self.database,
                    conn,
                    "dockyard.model.registered",
                    source=f"/models/{name}",
                    subject=str(version),
                    data={
                        "name": name,
                        "version": version,
                        "run_id": run_id,
                        "step": step,
                        "artifact_id": artifact_id,
                        "metrics": dict(metrics or {}),
                    },
                    key=(version,),
                    time=now,
                )
        except sa.exc.IntegrityError as exc:
            # The number is ours (the model's row is locked), so the artifact or run is
            # not recorded; the rollback also gives the number back.
            raise RecordNotFoundError(
                f"Cannot register {name!r}: artifact {artifact_id!r}"
                + (f" or run {run_id!r}" if run_id else "")
                + " is not recorded. Record the artifact first "
                "(MetadataStore.record_artifact), or register from a step."
            ) from exc
        return self._record(SimpleNamespace(**values), {})

    def _next_version(self, conn: sa.Connection, name: str) -> int:
        """Raise and return ``name``'s high-water mark, holding its lock until commit."""
        conn.execute(self._insert_name, {"name": name, "last_version": 0})
        conn.execute(
            _names.update()
            .where(_names.c.name == name)
            .values(last_version=_names.c.last_version + 1)
        )
        mark = conn.execute(
            sa.select(_names.c.last_version).where(_names.c.name == name)
        ).scalar_one()
        # Versions written without the mark (by dockyard 0.1 after this database was
        # upgraded, or by hand) must not be numbered over.
        latest = conn.execute(
            sa.select(sa.func.max(_versions.c.version)).where(_versions.c.name == name)
        ).scalar_one()
        version = max(int(mark), int(latest or 0) + 1)
        if version != mark:
            conn.execute(_names.update().where(_names.c.name == name).values(last_version=version))
        return version

    def _lock_version(self, conn: sa.Connection, name: str, version: int, *, share: bool) -> None:
        """Lock the version's row until commit (PostgreSQL; SQLite's write transaction
        already holds the database); ModelNotFoundError when there is no such version."""
        found = conn.execute(
            sa.select(_versions.c.version)
            .where(_versions.c.name == name, _versions.c.version == version)
            .with_for_update(read=share)
        ).first()
        if found is None:
            raise self._no_version(conn, name, version)

    def _no_version(self, conn: sa.Connection, name: str, version: int) -> ModelNotFoundError:
        self._require_model(conn, name)
        known = conn.execute(
            sa.select(_versions.c.version)
            .where(_versions.c.name == name)
            .order_by(_versions.c.version)
        ).scalars()
        return ModelNotFoundError(
            f"Model {name!r} has no version {version}. Versions: "
            f"{', '.join(str(v) for v in known)}."
        )

    def get_model_version(self, name: str, version: int) -> ModelVersionRecord:
        with self.database.transaction() as conn:
            row = conn.execute(
                sa.select(_versions).where(_versions.c.name == name, _versions.c.version == version)
            ).first()
            if row is None:
                raise self._no_version(conn, name, version)
            return self._record(row, self._aliases_of(conn, name))

    def list_model_versions(self, name: str) -> list[ModelVersionRecord]:
        with self.database.transaction() as conn:
            self._require_model(conn, name)
            aliases = self._aliases_of(conn, name)
            rows = conn.execute(
                sa.select(_versions).where(_versions.c.name == name).order_by(_versions.c.version)
            )
            return [self._record(row, aliases) for row in rows]

    def list_models(self) -> list[ModelSummary]:
        with self.database.transaction() as conn:
            rows = conn.execute(
                sa.select(
                    _versions.c.name,
                    sa.func.max(_versions.c.version),
                    sa.func.count(),
                    sa.func.max(_versions.c.created_at),
                )
                .group_by(_versions.c.name)
                .order_by(_versions.c.name)
            ).all()
            alias_rows = conn.execute(
                sa.select(_aliases.c.name, _aliases.c.alias, _aliases.c.version)
            ).all()
        by_model: dict[str, dict[str, int]] = {}
        for name, alias, version in alias_rows:
            by_model.setdefault(name, {})[alias] = version
        return [
            ModelSummary(
                name=name,
                latest_version=latest,
                versions=count,
                aliases=by_model.get(name, {}),
                updated_at=_as_utc(updated),
            )
            for name, latest, count, updated in rows
        ]

    def set_alias(self, name: str, alias: str, version: int) -> None:
        check_alias(alias)
        now = self.database.now()

        def write() -> None:  # idempotent: the same upsert twice leaves one alias
            with self.database.transaction(write=True) as conn:
                self._lock_version(conn, name, version, share=True)
                previous = conn.execute(
                    sa.select(_aliases.c.version).where(
                        _aliases.c.name == name, _aliases.c.alias == alias
                    )
                ).scalar()
                conn.execute(
                    self._upsert_alias,
                    {"name": name, "alias": alias, "version": version, "updated_at": now},
                )
                if previous != version:
                    record_event(
                        self.database,
                        conn,
                        "dockyard.model.alias_moved",
                        source=f"/models/{name}",
                        subject=alias,
                        data={
                            "name": name,
                            "alias": alias,
                            "version": version,
                            "previous_version": previous,
                        },
                        key=(alias, version, now.isoformat()),
                        time=now,
                    )

        try:
            self.database.retrying(write)
        except sa.exc.IntegrityError as exc:
            # Only inside a caller's transaction on SQLite can the version go in between.
            with self.database.transaction() as conn:
                raise self._no_version(conn, name, version) from exc

    def remove_alias(self, name: str, alias: str) -> None:
        with self.database.transaction() as conn:
            gone = conn.execute(
                _aliases.delete().where(_aliases.c.name == name, _aliases.c.alias == alias)
            ).rowcount
        if not gone:
            raise ModelNotFoundError(f"Model {name!r} has no alias {alias!r}.")

    def resolve_alias(self, name: str, alias: str) -> int:
        with self.database.transaction() as conn:
            version = conn.execute(
                sa.select(_aliases.c.version).where(
                    _aliases.c.name == name, _aliases.c.alias == alias
                )
            ).scalar()
            if version is None:
                self._require_model(conn, name)
                known = sorted(
                    conn.execute(
                        sa.select(_aliases.c.alias).where(_aliases.c.name == name)
                    ).scalars()
                )
                raise ModelNotFoundError(
                    f"Model {name!r} has no alias {alias!r}. Aliases: {', '.join(known) or 'none'}. "
                    f"Set one with: dockyard models alias {name}:VERSION {alias}"
                )
            return int(version)

    def update_model_version(
        self,
        name: str,
        version: int,
        *,
        signature: Signature | None = None,
        description: str | None = None,
    ) -> ModelVersionRecord:
        self.get_model_version(name, version)
        changes: dict[str, Any] = {}
        if signature is not None:
            changes["signature"] = signature.to_dict()
        if description is not None:
            changes["description"] = description
        if changes:
            with self.database.transaction() as conn:
                conn.execute(
                    _versions.update()
                    .where(_versions.c.name == name, _versions.c.version == version)
                    .values(**changes)
                )
        return self.get_model_version(name, version)

    def delete_model_version(self, name: str, version: int) -> None:
        try:
            with self.database.transaction(write=True) as conn:
                self._lock_version(conn, name, version, share=False)
                self._refuse_if_aliased(conn, name, version)
                conn.execute(
                    _versions.delete().where(
                        _versions.c.name == name, _versions.c.version == version
                    )
                )
        except sa.exc.IntegrityError as exc:  # an alias came in between (no row lock held)
            with self.database.transaction() as conn:
                self._refuse_if_aliased(conn, name, version)
            raise RegistryError(
                f"Model version {name}:{version} could not be deleted: something still "
                "refers to it. Try again."
            ) from exc

    def _refuse_if_aliased(self, conn: sa.Connection, name: str, version: int) -> None:
        aliases = sorted(
            conn.execute(
                sa.select(_aliases.c.alias).where(
                    _aliases.c.name == name, _aliases.c.version == version
                )
            ).scalars()
        )
        if aliases:
            raise RegistryError(
                f"Model version {name}:{version} is in use by alias(es) "
                f"{', '.join(aliases)}; move them first "
                f"(dockyard models alias {name}:OTHER {aliases[0]})."
            )


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
