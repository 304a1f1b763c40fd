"""A client that goes away while sending its body (a closing page's last commit) gets no 500."""

from __future__ import annotations

import asyncio
import json


def test_body_cut_short_by_a_disconnect_is_a_client_error(client):
    messages = [{"type": "http.request", "body": b'{"data": {', "more_body": True}, {"type": "http.disconnect"}]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/runtime/some-token/commit", "raw_path": b"/runtime/some-token/commit", "query_string": b"",
             "root_path": "", "headers": [(b"host", b"testserver"), (b"content-type", b"text/plain")],
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    asyncio.run(client.app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert json.loads(body)["code"] == "client-disconnected"
