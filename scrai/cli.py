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


@app.command()
def up(
    scenario: Path = typer.Argument(Path("scenarios/default.yml"), help="scenario file (YAML)"),
    port: int = typer.Option(None, help="API and dashboard port (default: SCRAI_API_PORT, 8000)"),
    host: str = typer.Option(None, help="API bind address (default: SCRAI_API_HOST, 127.0.0.1)"),
    seed: int = typer.Option(None, help="override the scenario's seed"),
    ticks: int = typer.Option(
        None, help="run N ticks, let memory and analytics catch up, then stop and exit 0"
    ),
    redis_url: str = typer.Option(None, help="Redis URL (default: SCRAI_REDIS_URL, else private)"),
    data_dir: Path = typer.Option(None, help="private Redis data and logs (default: .data)"),
    reseed: bool = typer.Option(False, help="start the world over if Redis holds an earlier run"),
    backend: str = typer.Option(
        "process", help="how agent workers run: process, or docker (image SCRAI_IMAGE)"
    ),
) -> None:
    """Run a scenario: Redis, the world, the agents, memory, analytics and the dashboard."""
    from scrai.launcher import UpOptions
    from scrai.launcher import up as run_up

    options = UpOptions(scenario, port, host, seed, ticks, redis_url, data_dir, reseed)
    options.backend = backend
    raise typer.Exit(run_up(options))


@app.command()
def world(
    reseed: bool = typer.Option(False, help="start the world over from the stored scenario"),
    max_ticks: int = typer.Option(None, help="last tick (overrides the scenario's max_ticks)"),
    wait_for_cast: float = typer.Option(
        0.0, help="hold a new run's first tick until every agent is alive, at most this many s"
    ),
) -> None:
    """Run the world system: the clock, and the only writer of world state."""
    from scrai.world.__main__ import main as world_main

    argv = ["--reseed"] if reseed else []
    if max_ticks is not None:
        argv += ["--max-ticks", str(max_ticks)]
    if wait_for_cast:
        argv += ["--wait-for-cast", str(wait_for_cast)]
    raise typer.Exit(world_main(argv))


@app.command()
def clock(
    action: str = typer.Argument(..., help="pause, resume, step or speed"),
    value: float = typer.Argument(None, help="step: ticks (default 1); speed: the multiplier"),
) -> None:
    """Pause, resume, step or change the speed of the running world's clock."""
    import asyncio

    from scrai.connection import connect
    from scrai.keys import Keys
    from scrai.settings import Settings
    from scrai.world.clock import request

    asks = {
        "pause": {"state": "paused"},
        "resume": {"state": "running"},
        "step": {"steps": int(value or 1)},
        "speed": {"speed": value},
    }
    if action not in asks or (action == "speed" and not value) or (value or 0) < 0:
        typer.echo("usage: scrai clock pause | resume | step [N] | speed X (X > 0)", err=True)
        raise typer.Exit(2)

    async def send() -> None:
        settings = Settings()
        redis = connect(settings)
        try:
            await request(redis, Keys(settings.namespace), **asks[action])  # type: ignore[arg-type]
        finally:
            await redis.aclose()

    asyncio.run(send())
    typer.echo(f"clock: {action} requested")


@app.command()
def status(
    redis_url: str = typer.Option(None, help="Redis URL (default: SCRAI_REDIS_URL)"),
    namespace: str = typer.Option(None, help="key namespace (default: SCRAI_NAMESPACE)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Show the clock, agents alive, stream lengths, consumer lag/pending and dead letters."""
    import asyncio
    import json

    from redis.exceptions import RedisError

    from scrai.connection import connect
    from scrai.keys import Keys
    from scrai.settings import Settings
    from scrai.status import format_status, read_status

    overrides = {k: v for k, v in (("redis_url", redis_url), ("namespace", namespace)) if v}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if not settings.redis_url:
        typer.echo("no Redis to ask: pass --redis-url or set SCRAI_REDIS_URL", err=True)
        raise typer.Exit(2)

    async def read():  # type: ignore[no-untyped-def]
        redis = connect(settings)
        try:
            return await read_status(redis, Keys(settings.namespace))
        finally:
            await redis.aclose()

    try:
        result = asyncio.run(read())
    except RedisError as exc:
        typer.echo(f"cannot read {settings.redis_url}: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
    else:
        for line in format_status(result):
            typer.echo(line)


def _add_analytics_commands() -> None:
    """``scrai analytics rebuild`` and ``scrai export graph``, from the analytics package."""
    try:
        from analytics.cli import analytics_app, export_app
    except ImportError:  # installed without the analytics package
        return
    app.add_typer(analytics_app, name="analytics")
    app.add_typer(export_app, name="export")


_add_analytics_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
