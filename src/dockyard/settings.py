"""Process settings from ``DOCKYARD_*`` environment variables, read when asked.

A frozen dataclass rather than pydantic-settings: the CLI's start-up time is a product
target (``dockyard runs list`` under 0.5 s) and these few variables need no validation
framework.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CONFIG_DIR = ".dockyard"


@dataclass(frozen=True, slots=True)
class Settings:
    #: Project folder (holding ``.dockyard/``); default: nearest one above the cwd, else cwd.
    home: Path | None
    #: Stack to use instead of the project's active one.
    stack: str | None
    #: Load pickled artifacts written by other processes without asking.
    trust_pickle: bool
    debug: bool

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        home = env.get("DOCKYARD_HOME")
        return cls(
            home=Path(home).expanduser() if home else None,
            stack=env.get("DOCKYARD_STACK") or None,
            trust_pickle=env.get("DOCKYARD_TRUST_PICKLE", "").lower() in ("1", "true", "yes"),
            debug=env.get("DOCKYARD_DEBUG", "").lower() in ("1", "true", "yes"),
        )


def find_project_root(settings: Settings | None = None) -> Path:
    """The project folder: DOCKYARD_HOME, else the nearest folder with ``.dockyard/``
    above the working directory, else the working directory itself.

    Raises:
        ConfigError: DOCKYARD_HOME names a folder that does not exist (a typo would
            otherwise start a new, empty project: ``dockyard init`` creates one), or a file.
    """
    settings = settings or Settings.from_env()
    if settings.home is not None:
        from dockyard.errors import ConfigError

        home = settings.home.resolve()
        if not home.exists():
            raise ConfigError(
                f"DOCKYARD_HOME={settings.home} does not exist; create it with "
                f"dockyard init {settings.home} (or correct DOCKYARD_HOME)."
            )
        if not home.is_dir():
            raise ConfigError(
                f"DOCKYARD_HOME={settings.home} is a file, not a folder; point DOCKYARD_HOME "
                "at the project folder (the one holding .dockyard/)."
            )
        return home
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / CONFIG_DIR / "config.yaml").is_file():
            return folder
    return cwd
