"""A real OpenAI-compatible HTTP server on loopback, for the LLM brain's tests.

Plain asyncio streams (HTTP/1.1, one request per connection), so it runs in the
test's own event loop with no extra dependency. ``mode`` picks the behaviour:

- ``good``: the JSON in ``reply``, with ``usage``
- ``fenced``: the same JSON inside a ```json fence after some prose, and no ``usage``
- ``slow``: never answers until the server closes (the client must time out)
- ``gated``: answers like ``good`` once ``gate`` is set; counts requests in flight
- ``error``: HTTP 500
- ``flaky``: HTTP 500 on the first request, then ``good``
- ``parts``: the ``good`` answer as a list of content parts, after a <think> block
- ``nonsense``: prose with no JSON
- ``invalid``: valid JSON naming a place that does not exist
- ``pick``: a valid action chosen from the prompt itself (a stand-in model for whole runs)

``python -m tests.agents.llm_server --port N --mode pick`` serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import re
from typing import Any

USAGE = {"prompt_tokens": 120, "completion_tokens": 18, "total_tokens": 138}


class ChatServer:
    def __init__(self) -> None:
        self.mode = "good"
        self.reply: dict[str, Any] = {
            "action": {"kind": "move", "to": "square"},
            "reason": "the festival is on the square",
        }
        self.requests = 0
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._release = asyncio.Event()
        self.gate = asyncio.Event()
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> ChatServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        self._release.set()  # let hung "slow" handlers finish
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode().split("\r\n")
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (h.partition(":") for h in header_lines if h)
            }
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            method, path, _ = request_line.split(" ", 2)
            if method != "POST" or path != "/v1/chat/completions":
                await self._send(writer, 404, {"error": f"no route {method} {path}"})
                return
            self.requests += 1
            self.bodies.append(json.loads(body))
            self.headers.append(headers)
            await self._answer(writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(ConnectionError):
                writer.close()
                await writer.wait_closed()

    async def _answer(self, writer: asyncio.StreamWriter) -> None:
        mode = self.mode
        if mode == "flaky":
            mode = "error" if self.requests == 1 else "good"
        if mode == "slow":
            await self._release.wait()
            return
        if mode == "gated":
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await self.gate.wait()
            finally:
                self.in_flight -= 1
            mode = "good"
        if mode == "error":
            await self._send(writer, 500, {"error": {"message": "model crashed"}})
            return
        usage: dict[str, int] | None = USAGE
        if mode == "good":
            content = json.dumps(self.reply)
        elif mode == "fenced":
            content = f"Here is my move:\n```json\n{json.dumps(self.reply, indent=2)}\n```\n"
            usage = None
        elif mode == "parts":
            content = [  # type: ignore[assignment]
                {"type": "text", "text": "<think>Should I {go}? Yes.</think>"},
                {"type": "text", "text": json.dumps(self.reply)},
            ]
        elif mode == "nonsense":
            content = "I think I would rather go for a long walk by the river and ponder life."
        elif mode == "pick":
            content = json.dumps(pick(self.bodies[-1]["messages"][-1]["content"]))
        elif mode == "invalid":
            content = json.dumps({"action": {"kind": "move", "to": "atlantis"}, "reason": "myth"})
        else:
            raise ValueError(f"unknown mode {mode!r}")
        completion: dict[str, Any] = {
            "id": f"chatcmpl-{self.requests}",
            "object": "chat.completion",
            "model": self.bodies[-1].get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
        }
        if usage is not None:
            completion["usage"] = usage
        await self._send(writer, 200, completion)

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}[status]
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
            + data
        )
        await writer.drain()


def pick(prompt: str) -> dict[str, Any]:
    """A deterministic, valid answer to a prompt: move, greet someone nearby, or rest."""
    places = re.findall(r"(\S+) \(", prompt.split("You can go to: ", 1)[-1].split("\n", 1)[0])
    agents = re.findall(
        r"^- (\S+) \(", prompt.split("Agents nearby:", 1)[-1].split("Objects", 1)[0], re.MULTILINE
    )
    roll = int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 3
    if roll == 0 and places:
        return {"action": {"kind": "move", "to": places[0]}, "reason": "somewhere new"}
    if roll == 1 and agents:
        return {
            "action": {"kind": "speak", "to": agents[0], "text": "Good day!"},
            "reason": "manners",
        }
    return {"action": {"kind": "idle", "reason": "resting"}, "reason": "tired"}


async def _serve_forever(port: int, mode: str) -> None:
    server = ChatServer()
    server.mode = mode
    server._server = await asyncio.start_server(server._serve, "127.0.0.1", port)
    server.port = server._server.sockets[0].getsockname()[1]
    print(f"serving {server.base_url} in mode {mode}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.aclose()


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description="A loopback OpenAI-compatible chat server.")
    cli.add_argument("--port", type=int, default=0)
    cli.add_argument("--mode", default="pick")
    opts = cli.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(opts.port, opts.mode))
