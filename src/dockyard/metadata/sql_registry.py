"""SQL implementation of :class:`~dockyard.metadata.registry.ModelRegistryStore`.

A mixin of :class:`~dockyard.metadata.sql_store.SqlMetadataStore`: it uses the store's
``_tx()`` and ``_now()`` and the artifact helpers, so a model version and its artifact
are recorded in one transaction on the same database as the runs that produced them.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from dockyard.errors import ModelNotFoundError, RecordNotFoundError, RegistryError
from dockyard.metadata import models, models_registry
from dockyard.metadata.base import ArtifactDraft
from dockyard.metadata.registry import ModelRegistryStore, ModelSummary, ModelVersionRecord

_versions = models_registry.model_versions
_aliases = models_registry.model_aliases
_artifacts = models.artifacts
_runs = models.runs

_HINT = "List models with: dockyard models list"


class SqlModelRegistryMixin(ModelRegistryStore):
    # Provided by SqlMetadataStore.
    _tx: Any
    _now: Any
    _insert_artifact: Any
    _dialect: str

    def _transaction(self) -> AbstractContextManager[sa.Connection]:
        return cast(AbstractContextManager[sa.Connection], self._tx())

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
            signature=dict(row.signature) if row.signature is not None else None,
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
        artifact: ArtifactDraft | str,
        run_id: str | None = None,
        step: str | None = None,
        metrics: Mapping[str, Any] | None = None,
        signature: Mapping[str, Any] | None = None,
        requirements: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> ModelVersionRecord:
        if not name or any(c in name for c in ":@/ "):
            raise RegistryError(
                f"Invalid model name {name!r}: use letters, digits, '-', '_' or '.', "
                f"without ':', '@', '/' or spaces."
            )
        now = self._now()
        for _attempt in range(5):  # two writers may pick the same next version
            try:
                with self._transaction() as conn:
                    if self._dialect == "postgresql":
                        # Serialise version numbering per model; released at commit.
                        conn.execute(
                            sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                            {"key": f"dockyard.model_versions:{name}"},
                        )
                    if isinstance(artifact, ArtifactDraft):
                        aid = models.artifact_id(
                            artifact.content_hash, artifact.data_type, artifact.materializer
                        )
                        conn.execute(self._insert_artifact, _artifact_values(aid, artifact, now))
                    else:
                        aid = artifact
                        found = conn.execute(
                            sa.select(_artifacts.c.id).where(_artifacts.c.id == aid)
                        ).first()
                        if found is None:
                            raise RecordNotFoundError(f"No artifact with id {aid!r}.")
                    if (
                        run_id is not None
                        and conn.execute(sa.select(_runs.c.id).where(_runs.c.id == run_id)).first()
                        is None
                    ):
                        raise RecordNotFoundError(f"No run with id {run_id!r}.")
                    latest = conn.execute(
                        sa.select(sa.func.max(_versions.c.version)).where(_versions.c.name == name)
                    ).scalar_one()
                    version = (latest or 0) + 1
                    values = {
                        "name": name,
                        "version": version,
                        "artifact_id": aid,
                        "run_id": run_id,
                        "step": step,
                        "metrics": dict(metrics or {}),
                        "signature": dict(signature) if signature is not None else None,
                        "requirements": dict(requirements or {}),
                        "description": description,
                        "created_at": now,
                    }
                    conn.execute(_versions.insert(), values)
                    row = conn.execute(
                        sa.select(_versions).where(
                            _versions.c.name == name, _versions.c.version == version
                        )
                    ).one()
                    return self._record(row, {})
            except sa.exc.IntegrityError:
                continue
        raise RegistryError(f"Could not allocate a new version of {name!r}; try again.")

    def get_model_version(self, name: str, version: int) -> ModelVersionRecord:
        with self._transaction() as conn:
            row = conn.execute(
                sa.select(_versions).where(_versions.c.name == name, _versions.c.version == version)
            ).first()
            if row is None:
                self._require_model(conn, name)
                known = conn.execute(
                    sa.select(_versions.c.version)
                    .where(_versions.c.name == name)
                    .order_by(_versions.c.version)
                ).scalars()
                raise ModelNotFoundError(
                    f"Model {name!r} has no version {version}. Versions: "
                    f"{', '.join(str(v) for v in known)}."
                )
            return self._record(row, self._aliases_of(conn, name))

    def list_model_versions(self, name: str) -> list[ModelVersionRecord]:
        with self._transaction() as conn:
            self._require_model(conn, name)
            aliases = self._aliases_of(conn, name)
            rows = conn.execute(
                sa.select(_versions).where(_versions.c.name == name).order_by(_versions.c.version)
            )
            return [self._record(row, aliases) for row in rows]

    def list_models(self) -> list[ModelSummary]:
        with self._transaction() as conn:
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
        if not alias or any(c in alias for c in ":@/ "):
            raise RegistryError(f"Invalid alias {alias!r}: no ':', '@', '/' or spaces.")
        if alias.isdigit():
            raise RegistryError(f"Invalid alias {alias!r}: an alias cannot be a number.")
        self.get_model_version(name, version)  # clear error for an unknown version
        now = self._now()
        with self._transaction() as conn:
            conn.execute(
                _aliases.delete().where(_aliases.c.name == name, _aliases.c.alias == alias)
            )
            conn.execute(
                _aliases.insert(),
                {"name": name, "alias": alias, "version": version, "updated_at": now},
            )

    def remove_alias(self, name: str, alias: str) -> None:
        with self._transaction() as conn:
            gone = conn.execute(
                _aliases.delete().where(_aliases.c.name == name, _aliases.c.alias == alias)
            ).rowcount
        if not gone:
            raise ModelNotFoundError(f"Model {name!r} has no alias {alias!r}.")

    def resolve_alias(self, name: str, alias: str) -> int:
        with self._transaction() as conn:
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
        signature: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> ModelVersionRecord:
        self.get_model_version(name, version)
        changes: dict[str, Any] = {}
        if signature is not None:
            changes["signature"] = dict(signature)
        if description is not None:
            changes["description"] = description
        if changes:
            with self._transaction() as conn:
                conn.execute(
                    _versions.update()
                    .where(_versions.c.name == name, _versions.c.version == version)
                    .values(**changes)
                )
        return self.get_model_version(name, version)

    def delete_model_version(self, name: str, version: int) -> None:
        record = self.get_model_version(name, version)
        if record.aliases:
            raise RegistryError(
                f"Model version {name}:{version} is in use by alias(es) "
                f"{', '.join(record.aliases)}; move them first "
                f"(dockyard models alias {name}:OTHER {record.aliases[0]})."
            )
        with self._transaction() as conn:
            conn.execute(
                _versions.delete().where(_versions.c.name == name, _versions.c.version == version)
            )


def _as_utc(value: datetime) -> datetime:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _artifact_values(aid: str, draft: ArtifactDraft, now: datetime) -> dict[str, Any]:
    from dockyard.metadata.sql_store import _artifact_row

    return _artifact_row(aid, draft, now)


__all__ = ["SqlModelRegistryMixin"]
