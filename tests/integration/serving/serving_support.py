"""Models and a real uvicorn server for the serving integration tests."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import uvicorn
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from dockyard.registry.signature import infer_signature
from dockyard.runtime import ModelRuntime
from support import free_port

BODY_LIMIT = 64 * 1024


@dataclass
class Iris:
    x: np.ndarray
    frame: pd.DataFrame
    y: np.ndarray
    model: LogisticRegression
    old_model: DecisionTreeClassifier

    @property
    def signature(self) -> Any:
        return infer_signature(self.frame, self.y)


class Flaky:
    """Raises on rows whose first feature is over 100, like a model meeting a bug."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        if (x[:, 0] > 100).any():
            raise RuntimeError("feature out of the training range")
        return np.zeros(len(x), dtype=np.int64)


def runtimes(iris: Iris) -> list[ModelRuntime]:
    return [
        ModelRuntime(iris.model, iris.signature, name="iris", version=3),
        ModelRuntime(iris.old_model, iris.signature, name="iris", version=2),
        ModelRuntime(Flaky(), iris.signature, name="flaky", version=1),
    ]


class Server:
    """uvicorn in a thread of the test process."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
