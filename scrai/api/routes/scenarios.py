"""``GET /api/scenarios`` (the shipped ones) and ``POST /api/scenarios/validate``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from scrai.api.deps import TokenDep

router = APIRouter(prefix="/api/scenarios", tags=["scenarios"])

MAX_UPLOAD_BYTES = 1_000_000


class Validation(BaseModel):
    valid: bool
    name: str | None = None
    agents: int | None = None
    places: int | None = None
    problems: list[str]


def _problems(exc: Exception) -> list[str]:
    """The loader's error as one line per problem (it may carry a list of them)."""
    for attr in ("problems", "errors"):
        value = getattr(exc, attr, None)
        if callable(value):
            try:
                value = value()
            except TypeError:
                value = None
        if isinstance(value, list | tuple) and value:
            return [str(p) for p in value]
    return [line for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]


def validate_text(text: str, source: str) -> Validation:
    """Parse one scenario text; never raises for a bad scenario, it reports it."""
    from scrai.scenario.loader import parse_scenario

    try:
        scenario = parse_scenario(text, source=source)
    except (ValueError, TypeError, RecursionError) as exc:
        return Validation(valid=False, problems=_problems(exc))
    return Validation(
        valid=True,
        name=scenario.name,
        agents=len(scenario.agents),
        places=len(scenario.world.places),
        problems=[],
    )


def _summary(path: Path, cache: dict[Path, tuple[float, dict[str, Any]]]) -> dict[str, Any]:
    mtime = path.stat().st_mtime
    hit = cache.get(path)
    if hit and hit[0] == mtime:
        return hit[1]
    result = validate_text(path.read_text(encoding="utf-8"), path.name)
    summary = {"file": path.name, **result.model_dump()}
    cache[path] = (mtime, summary)
    return summary


@router.get("", summary="The scenarios shipped with ScrAI")
async def list_scenarios(request: Request) -> dict[str, Any]:
    folder: Path = request.app.state.scenarios_dir
    cache = request.app.state.scenario_summaries

    def summarise() -> list[dict[str, Any]]:
        paths = sorted(folder.glob("*.yml")) if folder.is_dir() else []
        return [_summary(p, cache) for p in paths]

    # Big casts take a moment to expand: off the event loop.
    summaries = await asyncio.to_thread(summarise)
    return {"scenarios": summaries}


@router.post(
    "/validate",
    response_model=Validation,
    dependencies=[TokenDep],
    summary="Validate an uploaded scenario (YAML body); returns the problems found",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/yaml": {"schema": {"type": "string"}}},
        }
    },
)
async def validate_scenario(request: Request) -> Validation:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, detail=f"scenario larger than {MAX_UPLOAD_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_UPLOAD_BYTES:
            raise HTTPException(413, detail=f"scenario larger than {MAX_UPLOAD_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Validation(valid=False, problems=["the file is not UTF-8 text"])
    if not text.strip():
        return Validation(valid=False, problems=["the file is empty"])
    return await asyncio.to_thread(validate_text, text, "upload")
