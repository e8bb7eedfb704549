"""The isolated engine environments (tests/venvs.py): a build that cannot succeed skips
the test with the reason, or fails it under DOCKYARD_REQUIRE_SERVICES=1 (CI)."""

from __future__ import annotations

from pathlib import Path

import pytest

import venvs


def _bad_lock(tmp_path: Path) -> Path:
    lock = tmp_path / "requirements.lock"
    lock.write_text("this is not a requirement ===\n")  # pip refuses it without the network
    return lock


def test_an_environment_that_cannot_be_built_skips_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(venvs, "REQUIRE_SERVICES", False)
    with pytest.raises(pytest.skip.Exception, match=r"cannot build the isolated bogus venv"):
        venvs.isolated_venv("bogus", _bad_lock(tmp_path), root=tmp_path)
    assert not (tmp_path / ".venv-bogus").exists()


def test_under_require_services_it_fails_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(venvs, "REQUIRE_SERVICES", True)
    with pytest.raises(pytest.fail.Exception, match=r"DOCKYARD_REQUIRE_SERVICES=1"):
        venvs.isolated_venv("bogus", _bad_lock(tmp_path), root=tmp_path)


def test_a_built_environment_is_reused_while_its_lock_is_unchanged(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("# nothing to install\n")
    bin_dir = venvs.isolated_venv("empty", lock, root=tmp_path)
    assert (bin_dir / "python").exists()
    stamp = tmp_path / ".venv-empty" / "lock.sha256"
    built = stamp.stat().st_mtime_ns
    assert venvs.isolated_venv("empty", lock, root=tmp_path) == bin_dir
    assert stamp.stat().st_mtime_ns == built  # not rebuilt
