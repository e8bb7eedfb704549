"""Size-bounded logs of the long-running processes (issue #8, item 10)."""

from __future__ import annotations

import logging
from pathlib import Path

from dockyard._logs import configure_file_logging


def test_logs_are_rotated_and_requests_are_not_logged(tmp_path: Path) -> None:
    """A week of errors must not fill the disk: the file is rotated at its size limit
    with three older files kept, and per-request access lines stay off."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_file_logging(tmp_path / "agent.log", max_bytes=2_000)
        for i in range(400):
            logging.getLogger("dockyard.rollout").warning("tick %d failed: database gone", i)
            logging.getLogger("uvicorn.access").info("GET /predict 200")
        files = sorted(p.name for p in tmp_path.iterdir())
        assert files == ["agent.log", "agent.log.1", "agent.log.2", "agent.log.3"]
        assert all(p.stat().st_size <= 2_100 for p in tmp_path.iterdir())
        assert "GET /predict" not in (tmp_path / "agent.log").read_text()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], level = saved
        root.setLevel(level)
