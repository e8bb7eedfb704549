"""NumPy arrays and scalars as ``.npy`` bytes, never pickled.

``np.save(..., allow_pickle=False)`` writes any dtype without Python objects (numbers,
bools, strings, datetimes, structured records) with its shape and memory order. Arrays
holding Python objects cannot be written that way, so ``can_save`` says no and they go to
the next materializer. Subclasses (masked arrays, ``np.matrix``) are refused too: ``.npy``
would drop the mask or the class.

A numpy scalar (``np.float64(0.5)``) is written as a 0-d array and comes back as the
same scalar type.
"""

from __future__ import annotations

import io
from typing import Any

from dockyard.artifacts.materializers.base import Materializer

_ARRAY = "numpy.ndarray"


class NumpyMaterializer(Materializer):
    """``numpy.ndarray`` and numpy scalar types, as ``.npy``."""

    name = "numpy"
    version = "1"
    type_names = (_ARRAY, "numpy.generic")

    def can_save(self, obj: Any) -> bool:
        import numpy as np

        if type(obj) is np.ndarray or (
            isinstance(obj, np.generic) and type(obj).__module__ == "numpy"
        ):
            return not obj.dtype.hasobject
        return False

    def save(self, obj: Any) -> bytes:
        import numpy as np

        buf = io.BytesIO()
        np.save(buf, np.asarray(obj), allow_pickle=False)
        return buf.getvalue()

    def load(self, data: bytes, data_type: str) -> Any:
        import numpy as np

        array = np.load(io.BytesIO(data), allow_pickle=False)
        return array if data_type == _ARRAY else array[()]
