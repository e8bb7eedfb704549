"""The SQL deployment store: deployments and rollout events on a :class:`Database`.

It reads and writes only the rollout context's tables (:mod:`dockyard.rollout.tables`),
on the same database as the runs and model versions the deployments serve. The
optimistic-concurrency check is one ``UPDATE ... WHERE revision = ?``: the database, not
the caller, decides who wrote first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from dockyard.db.outbox import record_event
from dockyard.db.store import SqlStore
from dockyard.errors import RecordNotFoundError, RolloutError, StaleStateError
from dockyard.rollout import tables
from dockyard.rollout.store import DeploymentRecord, DeploymentStore, RolloutEventRecord

__all__ = ["PUBLISHED_DECISIONS", "SqlDeploymentStore"]

#: The rollout decisions published as dockyard events, by kind: event type suffix.
PUBLISHED_DECISIONS = {
    "advance": "advanced",
    "switch": "switched",
    "complete": "completed",
    "rollback": "rolled_back",
    "abort": "aborted",
}

_deployments = tables.deployments
_events = tables.rollout_events
#: What a record shows: everything but the secrets (read only through secrets()).
_RECORD_COLUMNS = [c for c in _deployments.c if c.name != "secrets"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_HINT = "List deployments with: dockyard deployments list"


def _record(row: Any) -> DeploymentRecord:
    return DeploymentRecord(
        name=row.name,
        host=row.host,
        port=row.port,
        state=dict(row.state or {}),
        revision=row.revision,
        created_at=row.created_at,
        updated_at=row.updated_at,
        command=dict(row.command) if row.command is not None else None,
        agent_pid=row.agent_pid,
        heartbeat_at=row.heartbeat_at,
    )


def _event(row: Any) -> RolloutEventRecord:
    return RolloutEventRecord(
        id=row.id,
        deployment=row.deployment,
        kind=row.kind,
        reason=row.reason,
        figures=dict(row.figures or {}),
        created_at=row.created_at,
    )


class SqlDeploymentStore(SqlStore, DeploymentStore):
    """Deployments and rollout events on SQLAlchemy (SQLite or PostgreSQL).

    Args:
        database: the shared :class:`~dockyard.db.Database`, or a URL to open one for
            this store alone.
        **options: database options when ``database`` is a URL.
    """

    @staticmethod
    def _missing(name: str) -> RecordNotFoundError:
        return RecordNotFoundError(f"No deployment named {name!r}. {_HINT}")

    def create_deployment(
        self, name: str, *, port: int, host: str = "127.0.0.1", state: Mapping[str, Any]
    ) -> DeploymentRecord:
        if not _NAME.match(name or ""):
            raise RolloutError(
                f"Invalid deployment name {name!r}: use letters, digits, '.', '_' or '-' "
                "(up to 128, starting with a letter or digit)."
            )
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise RolloutError(f"Invalid port {port!r} for deployment {name!r}: use 1-65535.")
        now = self.database.now()
        values = {
            "name": name,
            "host": host,
            "port": port,
            "state": dict(state),
            "revision": 1,
            "command": None,
            "agent_pid": None,
            "heartbeat_at": None,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.database.transaction() as conn:
                conn.execute(_deployments.insert(), values)
        except sa.exc.IntegrityError as exc:
            raise RolloutError(
                f"A deployment named {name!r} exists already. Roll out a new version to it "
                f"with dockyard deploy {name} --model REF, or remove it first with "
                f"dockyard deployments down {name}."
            ) from exc
        return self.get_deployment(name)

    def get_deployment(self, name: str) -> DeploymentRecord:
        with self.database.transaction() as conn:
            row = conn.execute(
                sa.select(*_RECORD_COLUMNS).where(_deployments.c.name == name)
            ).first()
        if row is None:
            raise self._missing(name)
        return _record(row)

    def list_deployments(self) -> list[DeploymentRecord]:
        with self.database.transaction() as conn:
            rows = conn.execute(sa.select(*_RECORD_COLUMNS).order_by(_deployments.c.name)).all()
        return [_record(row) for row in rows]

    def delete_deployment(self, name: str) -> None:
        with self.database.transaction() as conn:
            # Explicitly, as well as by cascade: SQLite needs foreign_keys=ON for that.
            conn.execute(_events.delete().where(_events.c.deployment == name))
            result = conn.execute(_deployments.delete().where(_deployments.c.name == name))
            if result.rowcount == 0:
                raise self._missing(name)

    def update_state(
        self,
        name: str,
        state: Mapping[str, Any],
        expected_revision: int,
        *,
        events: Sequence[tuple[str, str, Mapping[str, Any]]] = (),
        clear_command: bool = False,
    ) -> DeploymentRecord:
        now = self.database.now()
        values: dict[str, Any] = {
            "state": dict(state),
            "revision": expected_revision + 1,
            "updated_at": now,
        }
        if clear_command:
            values["command"] = sa.null()
        with self.database.transaction() as conn:
            result = conn.execute(
                _deployments.update()
                .where(
                    _deployments.c.name == name,
                    _deployments.c.revision == expected_revision,
                )
                .values(**values)
            )
            if result.rowcount == 1:
                if events:
                    conn.execute(
                        _events.insert(),
                        [
                            {
                                "deployment": name,
                                "kind": kind,
                                "reason": reason,
                                "figures": dict(figures),
                                "created_at": now,
                            }
                            for kind, reason, figures in events
                        ],
                    )
                for i, (kind, reason, figures) in enumerate(events):
                    if kind in PUBLISHED_DECISIONS:
                        record_event(
                            self.database,
                            conn,
                            f"dockyard.rollout.{PUBLISHED_DECISIONS[kind]}",
                            source=f"/deployments/{name}",
                            subject=kind,
                            data={
                                "deployment": name,
                                "decision": kind,
                                "reason": reason,
                                "figures": dict(figures),
                            },
                            key=(expected_revision + 1, i),
                            time=now,
                        )
                row = conn.execute(
                    sa.select(*_RECORD_COLUMNS).where(_deployments.c.name == name)
                ).one()
                return _record(row)
            current = conn.execute(
                sa.select(_deployments.c.revision).where(_deployments.c.name == name)
            ).scalar()
        if current is None:
            raise self._missing(name)
        raise StaleStateError(
            f"The state of deployment {name!r} changed since it was read (revision "
            f"{expected_revision}, now {current}); read it again and retry.",
            current_revision=int(current),
        )

    def append_event(
        self, name: str, kind: str, reason: str, figures: Mapping[str, Any] | None = None
    ) -> RolloutEventRecord:
        now = self.database.now()
        values = {
            "deployment": name,
            "kind": kind,
            "reason": reason,
            "figures": dict(figures or {}),
            "created_at": now,
        }
        try:
            with self.database.transaction() as conn:
                exists = conn.execute(
                    sa.select(_deployments.c.name).where(_deployments.c.name == name)
                ).first()
                if exists is None:
                    raise self._missing(name)
                new_id = conn.execute(_events.insert().returning(_events.c.id), values).scalar()
        except sa.exc.IntegrityError as exc:  # deleted between the check and the insert
            raise self._missing(name) from exc
        return RolloutEventRecord(
            id=int(new_id or 0),
            deployment=name,
            kind=kind,
            reason=reason,
            figures=dict(figures or {}),
            created_at=now,
        )

    def list_events(self, name: str, limit: int = 100) -> list[RolloutEventRecord]:
        if limit < 1:
            return []
        with self.database.transaction() as conn:
            exists = conn.execute(
                sa.select(_deployments.c.name).where(_deployments.c.name == name)
            ).first()
            if exists is None:
                raise self._missing(name)
            rows = conn.execute(
                sa.select(_events)
                .where(_events.c.deployment == name)
                .order_by(_events.c.id.desc())
                .limit(limit)
            ).all()
        return [_event(row) for row in reversed(rows)]

    def set_command(self, name: str, command: Mapping[str, Any] | None) -> None:
        with self.database.transaction() as conn:
            stmt = _deployments.update().where(_deployments.c.name == name)
            if command is not None:  # one waiting command at a time, decided by the database
                # SQL NULL, or JSON null (as 0.1.0 wrote a deployment's empty command).
                empty = sa.func.coalesce(sa.cast(_deployments.c.command, sa.Text), "null")
                stmt = stmt.where(empty == "null")
            result = conn.execute(
                stmt.values(command=dict(command) if command is not None else sa.null())
            )
            if result.rowcount == 1:
                return
            waiting = conn.execute(
                sa.select(_deployments.c.command).where(_deployments.c.name == name)
            ).first()
        if waiting is None:
            raise self._missing(name)
        kind = (waiting.command or {}).get("kind", "another command")
        raise RolloutError(
            f"Deployment {name!r} already has a command waiting for its agent ({kind}); "
            f"it was not replaced. Wait for it to act (dockyard rollout status {name}) and "
            "run yours again if it still applies."
        )

    def secrets(self, name: str) -> dict[str, str]:
        with self.database.transaction() as conn:
            row = conn.execute(
                sa.select(_deployments.c.secrets).where(_deployments.c.name == name)
            ).first()
        if row is None:
            raise self._missing(name)
        return {str(k): str(v) for k, v in (row.secrets or {}).items()}

    def set_secrets(self, name: str, secrets: Mapping[str, str]) -> None:
        with self.database.transaction() as conn:
            result = conn.execute(
                _deployments.update()
                .where(_deployments.c.name == name)
                .values(secrets={str(k): str(v) for k, v in secrets.items()})
            )
        if result.rowcount == 0:
            raise self._missing(name)

    def take_command(self, name: str) -> dict[str, Any] | None:
        with self.database.transaction() as conn:
            row = conn.execute(
                sa.select(_deployments.c.command)
                .where(_deployments.c.name == name)
                .with_for_update()  # PostgreSQL: no command slips in between
            ).first()
            if row is None:
                raise self._missing(name)
            if row.command is None:
                return None
            conn.execute(
                _deployments.update().where(_deployments.c.name == name).values(command=sa.null())
            )
            return dict(row.command)

    def heartbeat(self, name: str, pid: int | None) -> None:
        with self.database.transaction() as conn:
            result = conn.execute(
                _deployments.update()
                .where(_deployments.c.name == name)
                .values(
                    agent_pid=pid, heartbeat_at=self.database.now() if pid is not None else None
                )
            )
            if result.rowcount == 0:
                raise self._missing(name)

    def versions_in_use(self, model: str) -> dict[int, list[str]]:
        from dockyard.rollout.machine import RolloutState

        used: dict[int, list[str]] = {}
        for record in self.list_deployments():
            try:
                state = RolloutState.from_dict(record.state)
            except RolloutError:  # not a rollout's state: it serves nothing we know of
                continue
            if state.model != model:
                continue
            for version in state.versions_in_use():
                used.setdefault(version, []).append(
                    f"deployment {record.name!r} (take it down with: dockyard deployments "
                    f"down {record.name})"
                )
        return used
