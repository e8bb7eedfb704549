"""A short look at an artifact's value: a table's first rows, metrics, a value's start.

Only safe artifacts are loaded (never a pickle: the dashboard has no trust to give), and
only up to :data:`MAX_BYTES`; anything else is described, not loaded.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.metadata.base import ArtifactRecord
    from dockyard.stacks.stack import Stack

__all__ = ["MAX_BYTES", "Preview", "metrics_of", "preview"]

MAX_BYTES = 16 * 1024 * 1024
ROWS = 10
_PNG = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Preview:
    """What a page shows of an artifact.

    ``kind``: ``table`` (``columns`` + ``rows``), ``metrics`` (``metrics``), ``image``
    (``image``: a data URL), ``text`` (``text``), or ``none`` (``text`` says why).
    """

    kind: str
    text: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    total_rows: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    image: str = ""


def _cell(value: Any) -> str:
    s = f"{value:.6g}" if isinstance(value, float) else str(value)
    return s if len(s) <= 80 else s[:79] + "…"


def metrics_of(value: Any) -> dict[str, float] | None:
    """A flat mapping of names to numbers (what a step returns as metrics), else None."""
    if isinstance(value, dict) and value and len(value) <= 200:
        out: dict[str, float] = {}
        for k, v in value.items():
            if isinstance(v, bool) or not isinstance(v, int | float):
                return None
            out[str(k)] = float(v)
        return out
    return None


def _load(record: ArtifactRecord, stack: Stack) -> Any:
    from dockyard.pipelines.artifact_io import load_value

    return load_value(record, stack.artifact_store, stack.materializers, trust_pickle=False)


def load_small(record: ArtifactRecord, stack: Stack) -> tuple[bool, Any]:
    """(True, value) for a safe artifact under :data:`MAX_BYTES`; (False, why) otherwise."""
    if record.unsafe or record.materializer == "cloudpickle":
        return False, "a pickled artifact: not loaded by the dashboard"
    if record.size > MAX_BYTES:
        return False, f"{record.size:,} bytes: too large to preview"
    try:
        return True, _load(record, stack)
    except Exception as exc:  # a broken or missing artifact is shown, not raised
        return False, f"cannot be loaded: {exc}"


def preview(record: ArtifactRecord, stack: Stack) -> Preview:
    ok, value = load_small(record, stack)
    if not ok:
        return Preview("none", text=str(value))
    metrics = metrics_of(value)
    if metrics is not None:
        return Preview("metrics", metrics=metrics)
    if isinstance(value, bytes) and value.startswith(_PNG):
        return Preview("image", image="data:image/png;base64," + base64.b64encode(value).decode())
    head = getattr(value, "head", None)
    columns = getattr(value, "columns", None)
    if callable(head) and columns is not None:  # a pandas DataFrame
        first = value.head(ROWS)
        return Preview(
            "table",
            columns=[str(c) for c in first.columns],
            rows=[[_cell(v) for v in row] for row in first.itertuples(index=False)],
            total_rows=len(value),
        )
    if hasattr(value, "to_pylist") and hasattr(value, "schema"):  # an Arrow table
        first = value.slice(0, ROWS).to_pylist()
        cols = [str(n) for n in value.schema.names]
        return Preview(
            "table",
            columns=cols,
            rows=[[_cell(r.get(c)) for c in cols] for r in first],
            total_rows=value.num_rows,
        )
    shape = getattr(value, "shape", None)
    if shape is not None:  # a numpy array
        flat = value.reshape(-1)[:20].tolist() if hasattr(value, "reshape") else []
        return Preview("text", text=f"array {tuple(shape)} {getattr(value, 'dtype', '')}: {flat}")
    text = repr(value)
    return Preview("text", text=text if len(text) <= 2000 else text[:2000] + "…")
