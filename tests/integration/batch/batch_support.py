"""Helpers of the batch scoring tests (the fixtures are in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

FEATURES = ["f0", "f1", "f2", "f3"]
ROWS = 2_000


@dataclass
class Scoring:
    root: Path
    frame: pd.DataFrame
    lake: Any

    @property
    def ids(self) -> list[int]:
        return self.frame["customer_id"].tolist()


def customers(n: int = ROWS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=FEATURES)
    frame["customer_id"] = np.arange(n, dtype=np.int64) + 100_000
    frame["region"] = np.where(np.arange(n) % 4 == 0, "EU", "US")
    return frame


def write_table(
    lake: Any, name: str, frame: pd.DataFrame, mode: str = "error", row_group: int = 250
) -> None:
    """Write ``frame`` to the lake table ``name`` in small row groups (so a job of a few
    thousand rows has several chunks)."""
    from deltalake import WriterProperties, write_deltalake

    write_deltalake(
        lake.table_uri(name),
        pa.Table.from_pandas(frame, preserve_index=False),
        mode=mode,  # type: ignore[arg-type]
        writer_properties=WriterProperties(max_row_group_size=row_group),
        storage_options=lake.storage_options or None,
    )
