"""``scrai analytics ...`` and ``scrai export graph``: thin shells over the analytics modules."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer

analytics_app = typer.Typer(
    help="The social graph tables: rebuild them from the streams.", no_args_is_help=True
)
export_app = typer.Typer(help="Export what the run produced.", no_args_is_help=True)


def _run(coro_factory: Any) -> Any:
    from scrai.connection import connect
    from scrai.keys import Keys
    from scrai.settings import Settings

    async def runner() -> Any:
        settings = Settings()
        redis = connect(settings)
        try:
            return await coro_factory(redis, Keys(settings.namespace))
        finally:
            await redis.aclose()

    from redis.exceptions import ConnectionError as RedisConnectionError

    try:
        return asyncio.run(runner())
    except (RedisConnectionError, OSError) as exc:
        typer.echo(f"cannot reach Redis (SCRAI_REDIS_URL): {exc}", err=True)
        raise typer.Exit(2) from None


@analytics_app.command("rebuild")
def rebuild(
    swap: bool = typer.Option(
        False, "--swap", help="replace the live tables with the rebuilt ones"
    ),
) -> None:
    """Replay the committed and rejected streams from the start into fresh tables and compare them
    with the live ones (exit 1 when they differ); with --swap, put the fresh ones in place."""
    from analytics.rebuild import rebuild as do_rebuild

    report = _run(lambda redis, keys: do_rebuild(redis, keys, replace=swap))
    typer.echo(
        f"replayed {report.events} committed and {report.rejected} rejected entries "
        f"up to {report.position} (tick {report.tick})"
    )
    for table, ids in report.differences.items():
        typer.echo(f"  {table}: {len(ids)} differ, e.g. {', '.join(ids[:5])}")
    if report.trimmed:
        typer.echo(
            f"the committed log lost its first {report.trimmed} entries to retention "
            "(SCRAI_COMMITTED_RETENTION_MAX_LEN): the rebuilt tables miss them"
            + (", so they were not swapped in" if swap else ""),
            err=True,
        )
    if report.swapped:
        typer.echo("swapped the rebuilt tables in")
    elif report.equal:
        typer.echo("the live tables equal the rebuilt ones")
    raise typer.Exit(0 if report.equal or report.swapped else 1)


@export_app.command("graph")
def export_graph(
    format: str = typer.Option("graphml", "--format", "-f", help="graphml, gexf, json or csv"),
    out: Path | None = typer.Option(None, "--out", "-o", help="file to write (default: stdout)"),
    as_of: int | None = typer.Option(None, "--as-of", help="the graph as of this tick (snapshot)"),
) -> None:
    """Write the social graph as GraphML/GEXF (Gephi), node-link JSON, or CSV of edges over time."""
    from analytics.export import FORMATS, export

    if format not in FORMATS:
        raise typer.BadParameter(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    body = _run(lambda redis, keys: export(redis, keys, format, as_of=as_of))
    if out is None:
        typer.echo(body)
    else:
        out.write_text(body)
        typer.echo(f"wrote {out} ({len(body):,} characters)")
