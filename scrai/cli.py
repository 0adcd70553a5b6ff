"""The ``scrai`` command. Each command is a thin shell over the module that does the work."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="scrai",
    help="ScrAI: write a scenario, launch it, watch a society emerge.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """ScrAI: write a scenario, launch it, watch a society emerge."""


@app.command()
def version() -> None:
    """Print the version."""
    from scrai import __version__

    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
