"""``dockyard dashboard``: the web UI over the stack's stores."""

from __future__ import annotations

import typer

from dockyard.cli._common import console

HELP = "Serve the web dashboard: runs, lineage, models, lake, batch, events, live rollouts."


def dashboard(
    port: int = typer.Option(8000, "--port", "-p", min=1, max=65535, help="Port to listen on."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to bind (0.0.0.0: every interface; set a token)."
    ),
    token_env: str | None = typer.Option(
        None,
        "--token-env",
        metavar="NAME",
        help="Environment variable holding a token; Promote and Abort then need it.",
    ),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """Serve the dashboard until Ctrl-C."""
    from dockyard.cli._common import err_console
    from dockyard.dashboard.server import read_token, serve

    token = read_token(token_env)
    note = "; Promote and Abort need the token" if token else ""
    console.print(f"dashboard on http://{host}:{port}/{note} (Ctrl-C stops it)", markup=False)
    if token is None and host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(
            f"warning: the dashboard listens on {host} without a token: anyone who can reach "
            "it can promote or abort rollouts. Give --token-env NAME.",
            markup=False,
        )
    serve(host=host, port=port, token=token, stack=stack_name)
