"""Shipped scenarios are listed; uploaded ones are validated with every problem named."""

from __future__ import annotations

from pathlib import Path

import httpx
import yaml

from scrai.api.app import create_app
from scrai.settings import Settings
from tests.api.conftest import AUTH, SCENARIO

YAML = {"Content-Type": "application/yaml", **AUTH}


async def test_lists_the_scenarios_in_the_folder(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "town.yml").write_text(yaml.safe_dump(SCENARIO))
    (tmp_path / "broken.yml").write_text("name: x\nworld: {places: [{id: a}]}\n")
    (tmp_path / "notes.txt").write_text("not a scenario")
    app = create_app(settings, scenarios_dir=tmp_path)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            listed = (await http.get("/api/scenarios")).json()["scenarios"]
    by_file = {s["file"]: s for s in listed}
    assert set(by_file) == {"town.yml", "broken.yml"}
    assert by_file["town.yml"]["valid"] and by_file["town.yml"]["name"] == "Test Town"
    assert by_file["town.yml"]["agents"] == 3 and by_file["town.yml"]["places"] == 3
    assert not by_file["broken.yml"]["valid"] and by_file["broken.yml"]["problems"]


async def test_shipped_scenarios_all_validate(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/api/scenarios")).json()["scenarios"]
    shipped = sorted(p.name for p in (Path(__file__).parents[2] / "scenarios").glob("*.yml"))
    assert [s["file"] for s in listed] == shipped
    for summary in listed:
        assert summary["valid"], summary["problems"]


async def test_validate_accepts_a_good_scenario(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/scenarios/validate", content=yaml.safe_dump(SCENARIO), headers=YAML)
    assert r.status_code == 200
    assert r.json() | {"details": []} == {
        "valid": True, "name": "Test Town", "agents": 3, "places": 3, "objects": 2,
        "problems": [], "details": [],
    }  # fmt: skip


async def test_validate_names_each_problem(client: httpx.AsyncClient) -> None:
    bad = dict(SCENARIO, agents=[{"id": "x", "name": "X", "place": "nowhere", "mood": "odd"}])
    r = await client.post("/api/scenarios/validate", content=yaml.safe_dump(bad), headers=YAML)
    body = r.json()
    assert r.status_code == 200 and body["valid"] is False
    assert any(d["path"] == "agents[0].mood" and "unknown" in d["message"] for d in body["details"])
    assert all(p.startswith("upload") for p in body["problems"])


async def test_validate_refuses_junk_bombs_and_oversize(client: httpx.AsyncClient) -> None:
    for junk in ("", "[1, 2", "\xff\xfe", "- just\n- a list\n"):
        body = (await client.post("/api/scenarios/validate", content=junk, headers=YAML)).json()
        assert body["valid"] is False and body["problems"], junk
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    body = (await client.post("/api/scenarios/validate", content=bomb, headers=YAML)).json()
    assert body["valid"] is False
    huge = "#" * (3 * 1024 * 1024)
    r = await client.post("/api/scenarios/validate", content=huge, headers=YAML)
    assert r.status_code == 413
