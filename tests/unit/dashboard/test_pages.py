"""Every page of the dashboard against a store filled by real pipeline runs."""

from __future__ import annotations

from typing import Any

from conftest import Filled


def test_smoke(client: Any, filled: Filled) -> None:
    for path in [
        "/",
        "/runs",
        f"/runs/{filled.runs[0]}",
        "/models",
        "/models/points",
        "/lake",
        "/batch",
        "/events",
        "/deployments",
    ]:
        r = client.get(path)
        print(path, r.status_code)
        assert r.status_code == 200, r.text[-3000:]
