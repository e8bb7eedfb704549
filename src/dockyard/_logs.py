"""Size-bounded log files for dockyard's long-running processes.

A deployment's agent, gateway and serve processes run for days: each logs to its own file,
rotated at ``LOG_BYTES`` with ``LOG_BACKUPS`` older files kept, so a noisy week never fills
the disk. Nothing here runs at import time.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

__all__ = ["LOG_BACKUPS", "LOG_BYTES", "LOG_FILE_ENV", "configure_file_logging"]

#: Bytes per log file, and older files kept.
LOG_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 3
#: Set by the supervisor for the serve processes it starts: where they log.
LOG_FILE_ENV = "DOCKYARD_LOG_FILE"


def configure_file_logging(path: Path | str, *, max_bytes: int | None = None) -> None:
    """Log INFO and up (every logger, uvicorn's included) to ``path``, rotated.

    Libraries that log a line per request (httpx, aiohttp's and uvicorn's access logs)
    are kept at WARNING.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path,
        maxBytes=max_bytes or int(os.environ.get("DOCKYARD_LOG_BYTES") or LOG_BYTES),
        backupCount=LOG_BACKUPS,
        encoding="utf-8",
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error"):  # uvicorn's own handlers would print instead
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    for noisy in ("httpx", "httpcore", "aiohttp.access", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
