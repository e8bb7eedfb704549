"""Adding, listing and removing triggers (what ``dockyard trigger`` calls).

Example::

    from dockyard.events.trigger_api import add_trigger
    add_trigger("retrain", on_dataset="lake://raw/customers", run="train.py:training",
                params=["C=0.5"], debounce_s=5)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dockyard.errors import TriggerError
from dockyard.events.trigger_store import TriggerDraft, TriggerKind, TriggerRecord
from dockyard.stacks.stack import Stack, load_stack

__all__ = ["add_trigger", "list_triggers", "remove_trigger"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _stack(stack: Stack | str | None) -> Stack:
    return stack if isinstance(stack, Stack) else load_stack(stack)


def add_trigger(
    name: str,
    *,
    run: str,
    on_dataset: str | None = None,
    on_topic: str | None = None,
    on_event: str | None = None,
    params: Sequence[str] = (),
    debounce_s: float = 5.0,
    stack: Stack | str | None = None,
    run_stack: str | None = None,
) -> TriggerRecord:
    """Record a trigger that runs ``dockyard run RUN -p ...`` on what happens after now.

    Raises:
        TriggerError: a bad name, not exactly one of ``on_*``, a bad dataset, topic or
            event pattern, a target that is not ``FILE:PIPELINE``, a negative debounce,
            a topic trigger on a stack without a bus, or a name in use.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise TriggerError(
            f"Invalid trigger name {name!r}: use letters, digits, '.', '_' or '-' (up to 128, "
            "starting with a letter or digit)."
        )
    given = [
        (k, v) for k, v in (("dataset", on_dataset), ("topic", on_topic), ("event", on_event)) if v
    ]
    if len(given) != 1:
        raise TriggerError(
            f"Trigger {name!r} needs exactly one of --on-dataset, --on-topic, --on-event "
            f"(got {len(given)})."
        )
    if ":" not in run or run.startswith(":") or run.endswith(":"):
        raise TriggerError(
            f"Trigger {name!r}: --run takes FILE_OR_MODULE:PIPELINE (e.g. train.py:training), "
            f"got {run!r}."
        )
    if not debounce_s >= 0:
        raise TriggerError(
            f"Trigger {name!r}: the debounce must be >= 0 seconds, got {debounce_s}."
        )
    kind: TriggerKind = given[0][0]  # type: ignore[assignment]
    source = str(given[0][1])
    s = _stack(stack)
    mark = 0
    if kind == "dataset":
        from dockyard.errors import DatasetNotFoundError
        from dockyard.lake.api import open as open_lake
        from dockyard.lake.refs import parse_ref

        ref = parse_ref(source)
        lake = open_lake(s)
        lake.table_uri(ref.name)  # an unknown zone is named now
        source = ref.name
        try:
            mark = lake.latest_version(source)  # answer what lands from now on
        except DatasetNotFoundError:
            mark = -1  # its first version will fire
    elif kind == "event":
        if not source.startswith("dockyard."):
            raise TriggerError(
                f"Trigger {name!r}: --on-event takes a dockyard event type or glob, e.g. "
                f"dockyard.model.registered or dockyard.model.*, got {source!r}."
            )
        from dockyard.db.outbox import Outbox

        newest = Outbox(s.database).recent(limit=1)
        mark = newest[0].seq if newest else 0
    else:
        from dockyard.events.base import check_name
        from dockyard.events.publishing import shared_bus_url

        check_name(source)
        if shared_bus_url(s) is None:
            raise TriggerError(
                f"Trigger {name!r} on topic {source!r} needs a bus: stack {s.name!r} names "
                "none. Register one with: dockyard stack register NAME --event-bus URL --use"
            )
    argv = ("run", run, *(a for p in params for a in ("-p", p)))
    draft = TriggerDraft(name, kind, source, argv, float(debounce_s), run_stack)
    return s.trigger_store.add_trigger(draft, mark=mark)  # type: ignore[no-any-return]


def list_triggers(stack: Stack | str | None = None) -> list[TriggerRecord]:
    return _stack(stack).trigger_store.list_triggers()  # type: ignore[no-any-return]


def remove_trigger(name: str, stack: Stack | str | None = None) -> None:
    """Raises UnknownTriggerError."""
    _stack(stack).trigger_store.remove_trigger(name)
