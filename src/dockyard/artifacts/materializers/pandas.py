"""pandas DataFrames and Series as Parquet (pyarrow), never pickled.

Parquet keeps the dtypes a data pipeline uses (numbers, nullable ints, strings,
categoricals, tz-aware datetimes, timedeltas), the index and the column labels (pyarrow
records them in the file's pandas metadata). A Series is written as a one-column frame
and comes back a Series with its name, ``None`` included.

``can_save`` writes the value, so a frame Parquet cannot hold faithfully (a column of
mixed Python objects, duplicate column names) falls to the next materializer instead of
failing the step. Subclasses of DataFrame are refused: they would come back as plain
DataFrames without their methods or ``_metadata``.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

from dockyard.artifacts.materializers._trial import TrialMaterializer
from dockyard.artifacts.materializers.builtins import _decode, _encode, _NotJson

_META_KEY = b"dockyard"
_FRAME_NAMES = ("pandas.DataFrame", "pandas.core.frame.DataFrame")
_SERIES_NAMES = ("pandas.Series", "pandas.core.series.Series")


class PandasMaterializer(TrialMaterializer):
    """``pandas.DataFrame`` and ``pandas.Series``, as Parquet."""

    name = "pandas"
    version = "1"
    type_names = _FRAME_NAMES + _SERIES_NAMES

    def _accepts(self, obj: Any) -> bool:
        import pandas as pd

        return type(obj) in (pd.DataFrame, pd.Series)

    def _serialise(self, obj: Any) -> bytes:
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        meta: dict[str, Any] = {"kind": "frame"}
        frame = obj
        if isinstance(obj, pd.Series):
            meta = {"kind": "series"}
            # pyarrow would hand an int name back as numpy.int64: keep it exactly if JSON can
            with contextlib.suppress(_NotJson):
                meta["name"] = _encode(obj.name)
            frame = obj.to_frame()
        if frame.columns.has_duplicates:
            raise ValueError("duplicate column labels cannot be written to Parquet")
        if frame.attrs:
            meta["attrs"] = _encode(frame.attrs)  # refuses what JSON cannot keep exactly
        table = pa.Table.from_pandas(frame, preserve_index=None)
        schema_meta = dict(table.schema.metadata or {})
        schema_meta[_META_KEY] = json.dumps(meta).encode()
        table = table.replace_schema_metadata(schema_meta)
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return buf.getvalue()

    def load(self, data: bytes, data_type: str) -> Any:
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(data))
        raw = (table.schema.metadata or {}).get(_META_KEY, b"{}")
        meta = json.loads(raw, object_hook=_decode)
        frame = table.to_pandas()
        if meta.get("attrs"):
            frame.attrs = meta["attrs"]
        if meta.get("kind") != "series":
            return frame
        series = frame.iloc[:, 0]
        if "name" in meta:
            series.name = meta["name"]
        series.attrs = frame.attrs
        return series
