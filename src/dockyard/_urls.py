"""Showing URLs without their secrets (shared by the stores' errors and the CLI)."""

from __future__ import annotations

import re

_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


def mask_password(url: str) -> str:
    """``scheme://user:secret@host`` -> ``scheme://user:***@host``; other text unchanged.

    Works on any text, including URLs a parser rejects, so error messages never leak it.
    """
    return _PASSWORD.sub(r"\1***@", url)
