"""Model classes for the rollout scenarios, importable by the serve subprocesses.

They are saved by the cloudpickle materializer (by reference to this module), so the
serve processes need ``tests/e2e`` on ``PYTHONPATH`` and trust in pickles.
"""

from __future__ import annotations

import time
from typing import Any


def _label(row: Any) -> int:
    return int(float(row[0]) > 0.5)


class Good:
    """Class 1 when the first feature is above 0.5."""

    def predict(self, rows: Any) -> list[int]:
        return [_label(r) for r in rows]


class Flaky(Good):
    """Raises on about 20% of inputs (those whose second feature is below 0.2)."""

    def predict(self, rows: Any) -> list[int]:
        if any(float(r[1]) < 0.2 for r in rows):
            raise RuntimeError("flaky model failed on this input")
        return super().predict(rows)


class Slow(Good):
    """Right answers, 150 ms late."""

    def predict(self, rows: Any) -> list[int]:
        time.sleep(0.15)
        return super().predict(rows)


class Constant(Good):
    """Always class 1: never errs, but its answers diverge."""

    def predict(self, rows: Any) -> list[int]:
        return [1 for _ in rows]


class Inverted(Good):
    """The opposite answer of Good: a shadow that never agrees."""

    def predict(self, rows: Any) -> list[int]:
        return [1 - _label(r) for r in rows]
