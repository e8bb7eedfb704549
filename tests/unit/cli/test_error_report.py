"""How ``dockyard`` reports what went wrong: one line, verbatim, and an exit code.

Each branch of ``main()``'s error report, driven in process (the e2e suite drives the
real command): usage errors exit 2 on one line, everything else exits 1 with the
message as written (Rich markup in it is the user's text, never styling).
"""

from __future__ import annotations

import errno
import sys

import pytest

from dockyard.cli import main as cli_main
from dockyard.errors import ConfigError, MetadataUnavailableError


def _run(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setattr(sys, "argv", ["dockyard", *argv])
    with pytest.raises(SystemExit) as info:
        cli_main.main()
    code = info.value.code
    assert isinstance(code, int)
    return code


@pytest.fixture
def raising(monkeypatch: pytest.MonkeyPatch):
    """Make ``dockyard step run`` raise the given exception."""

    def install(exc: BaseException) -> None:
        def boom(*args: object, **kwargs: object) -> None:
            raise exc

        import dockyard.pipelines

        monkeypatch.setattr(dockyard.pipelines, "run_step", boom)

    monkeypatch.delenv("DOCKYARD_DEBUG", raising=False)
    return install


def _step_run(monkeypatch: pytest.MonkeyPatch) -> int:
    return _run(monkeypatch, "step", "run", "--run", "abcd", "--step", "s")


def test_a_dockyard_error_is_printed_verbatim(monkeypatch, capsys, raising) -> None:
    raising(
        MetadataUnavailableError(
            "driver missing. For PostgreSQL: pip install 'dockyard[postgres]'."
        )
    )
    assert _step_run(monkeypatch) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "Error: driver missing. For PostgreSQL: pip install 'dockyard[postgres]'.",
        "(run with --debug for the traceback)",
    ]


def test_markup_like_text_does_not_break_the_report(monkeypatch, capsys, raising) -> None:
    raising(ConfigError("No run matches '[/red]abcd' [bold]x[/bold]"))
    assert _step_run(monkeypatch) == 1
    assert "Error: No run matches '[/red]abcd' [bold]x[/bold]" in capsys.readouterr().err


def test_an_os_error_names_the_file_and_what_to_check(monkeypatch, capsys, raising) -> None:
    raising(NotADirectoryError(errno.ENOTDIR, "Not a directory", "/p/a-file/sub"))
    assert _step_run(monkeypatch) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith("Error: Not a directory: /p/a-file/sub. Check that the path exists")


def test_an_unexpected_exception_is_one_line_that_says_it_is_a_bug(
    monkeypatch, capsys, raising
) -> None:
    raising(ValueError("invalid literal for int() with base 10: 'abc'"))
    assert _step_run(monkeypatch) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[0] == (
        "Error: unexpected ValueError: invalid literal for int() with base 10: 'abc'. "
        "This is a bug in dockyard or in a plug-in; please report it with the traceback "
        "(--debug)."
    )


def test_debug_adds_the_traceback(monkeypatch, capsys, raising) -> None:
    raising(ValueError("boom"))
    assert _run(monkeypatch, "step", "run", "--run", "abcd", "--step", "s", "--debug") == 1
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "Error: unexpected ValueError: boom" in err
    assert "(run with --debug" not in err


def test_a_closed_pipe_exits_quietly(monkeypatch, capsys, raising) -> None:
    monkeypatch.setattr(cli_main, "_silence_stdout", lambda: None)
    raising(BrokenPipeError(errno.EPIPE, "Broken pipe"))
    assert _step_run(monkeypatch) == 1
    assert capsys.readouterr().err == ""


def test_interrupted(monkeypatch, capsys, raising) -> None:
    raising(KeyboardInterrupt())
    assert _step_run(monkeypatch) == 130


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (("frobnicate",), "Error: No such command 'frobnicate'. Try 'dockyard --help' for help."),
        (("runs", "list", "--zzz"), "Error: No such option: --zzz. Try 'dockyard runs list --help' for help."),
        (("runs", "show"), "Error: Missing argument 'run_id'. Try 'dockyard runs show --help' for help."),
        (
            ("serve", "iris", "--port", "0"),
            "Error: Invalid value for '--port' / '-p': 0 is not a TCP port; give one from 1 to "
            "65535. Try 'dockyard serve --help' for help.",
        ),
        (
            ("serve", "iris", "--max-body-mb", "0"),
            "Error: Invalid value for '--max-body-mb': 0.0 is not a size; give a number of "
            "megabytes above 0. Try 'dockyard serve --help' for help.",
        ),
        (
            ("stack", "register", "- list"),
            "Error: No such option: -. A value that starts with '-' goes after '--' "
            "(CMD -- VALUE). Try 'dockyard stack register --help' for help.",
        ),
    ],
    ids=["command", "option", "argument", "port", "body size", "dash value"],
)  # fmt: skip
def test_usage_errors_are_one_line_and_exit_2(monkeypatch, capsys, argv, line) -> None:
    assert _run(monkeypatch, *argv) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [line]


def test_no_command_prints_the_help_and_exits_2(monkeypatch, capsys) -> None:
    assert _run(monkeypatch) == 2
    captured = capsys.readouterr()
    assert "Usage: dockyard" in captured.out
    assert captured.err == ""


def test_help_exits_0(monkeypatch, capsys) -> None:
    assert _run(monkeypatch, "runs", "--help") == 0
    assert "Inspect pipeline runs." in capsys.readouterr().out
