"""``GET /api/scenarios`` (the shipped ones) and ``POST /api/scenarios/validate``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from scrai.api.deps import TokenDep
from scrai.scenario.loader import MAX_BYTES, ScenarioError, list_scenarios, parse_scenario

router = APIRouter(prefix="/api/scenarios", tags=["scenarios"])

# The same cap as for files: a director cannot upload what `scrai validate` would refuse.
MAX_UPLOAD_BYTES = MAX_BYTES


class ProblemOut(BaseModel):
    path: str
    line: int | None
    message: str


class Validation(BaseModel):
    valid: bool
    name: str | None = None
    agents: int | None = None
    places: int | None = None
    objects: int | None = None
    problems: list[str] = Field(description="one line per problem: source:line: field.path: reason")
    details: list[ProblemOut] = Field(default_factory=list)


def validate_text(text: str, source: str) -> Validation:
    """Parse one scenario text; never raises for a bad scenario, it reports it."""
    try:
        scenario = parse_scenario(text, source=source)
    except ScenarioError as exc:
        return Validation(
            valid=False,
            problems=[str(p) for p in exc.problems],
            details=[ProblemOut(path=p.path, line=p.line, message=p.message) for p in exc.problems],
        )
    return Validation(
        valid=True,
        name=scenario.name,
        agents=len(scenario.agents),
        places=len(scenario.world.places),
        objects=len(scenario.world.objects),
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
async def shipped_scenarios(request: Request) -> dict[str, Any]:
    folder: Path = request.app.state.scenarios_dir
    cache = request.app.state.scenario_summaries

    def summarise() -> list[dict[str, Any]]:
        names = list_scenarios(folder) if folder.is_dir() else []
        return [_summary(folder / name, cache) for name in names]

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
