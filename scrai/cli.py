"""The ``scrai`` command. Each command is a thin shell over the module that does the work."""

from __future__ import annotations

from pathlib import Path

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


@app.command()
def validate(
    files: list[Path] = typer.Argument(..., help="scenario files (YAML)", show_default=False),
) -> None:
    """Check scenario files: one summary line per valid file, one line per problem otherwise."""
    from scrai.scenario.loader import validate_files

    lines, ok = validate_files(files)
    for line in lines:
        typer.echo(line)
    raise typer.Exit(0 if ok else 1)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the scenario format (for editor completion)."""
    from scrai.scenario.loader import schema_json

    typer.echo(schema_json())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
