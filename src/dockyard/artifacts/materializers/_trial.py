"""Materializers whose only honest ``can_save`` is to try the save.

Whether cloudpickle, skops or parquet can serialise a value is known only by trying. The
registry calls ``can_save`` and then ``save`` on the same object, so the bytes from the
trial are kept (per thread, for that exact object) and handed to ``save`` instead of
serialising twice.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from typing import Any

from dockyard.artifacts.materializers.base import Materializer


class TrialMaterializer(Materializer):
    """A materializer whose ``can_save`` serialises the value and keeps the bytes."""

    def __init__(self) -> None:
        self._trial = threading.local()

    @abstractmethod
    def _serialise(self, obj: Any) -> bytes:
        """Serialise ``obj``; raise any exception when it cannot be done faithfully."""

    def _accepts(self, obj: Any) -> bool:
        """Cheap pre-check before trying to serialise (exact types, dtypes)."""
        return True

    def can_save(self, obj: Any) -> bool:
        self._trial.obj = self._trial.data = self._trial.error = None
        if not self._accepts(obj):
            return False
        try:
            data = self._serialise(obj)
        except Exception as exc:  # any failure means "not by this materializer"
            self._trial.error = f"{type(exc).__name__}: {exc}"
            return False
        self._trial.obj, self._trial.data = obj, data
        return True

    def save(self, obj: Any) -> bytes:
        trial = self._trial
        if getattr(trial, "obj", None) is obj and trial.data is not None:
            data: bytes = trial.data
            trial.obj = trial.data = None
            return data
        return self._serialise(obj)

    def refusal_reason(self) -> str | None:
        """Why the last ``can_save`` in this thread said no, if serialising raised."""
        return getattr(self._trial, "error", None)
