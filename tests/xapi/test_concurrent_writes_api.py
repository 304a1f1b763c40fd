"""Concurrent statement writes over real HTTP (a uvicorn server on loopback): every statement is
stored exactly once and in order; on SQLite, requests that arrive while a write is in progress
share its group commit, and a failing request of a group fails alone."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn

from app.main import create_app
from tests.xapi.conftest import basic, new_id, statement


class LiveServer:
    def __init__(self, settings):
        self.app = create_app(settings)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        self.sock.close()

    @property
    def runtime(self):
        return self.app.state.runtime


@pytest.fixture
def live(settings, lrs) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    """A real server on the test's database, and the headers of an LRS client with every scope."""
    with LiveServer(settings.model_copy(update={"package_worker_enabled": False})) as server:
        yield server, lrs


def _post(url: str, headers: dict[str, str], body, params=None) -> httpx.Response:
    return httpx.post(url + "/xapi/statements", json=body, headers=headers, params=params, timeout=30)


def _stored_order(server: LiveServer, headers: dict[str, str]) -> list[str]:
    r = httpx.get(server.url + "/xapi/statements", params={"ascending": "true", "limit": "0", "format": "ids"},
                  headers=headers, timeout=30)
    assert r.status_code == 200 and r.json()["more"] == ""
    return [s["id"] for s in r.json()["statements"]]


def test_concurrent_single_posts_are_stored_once_each_in_order(live):
    server, headers = live
    writers, per_writer = 6, 20
    sent: list[list[str]] = [[] for _ in range(writers)]

    def writer(number: int) -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            for i in range(per_writer):
                s = statement(id=new_id(), verb={"id": f"https://rmtc.example/verbs/w{number}"})
                r = client.post("/xapi/statements", json=s)
                assert r.status_code == 200, r.text
                assert r.json() == [s["id"]]
                sent[number].append(s["id"])

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(writer, range(writers)))
    stored = _stored_order(server, headers)
    assert sorted(stored) == sorted(i for ids in sent for i in ids)  # each exactly once
    position = {sid: n for n, sid in enumerate(stored)}
    for ids in sent:  # a writer waits for each answer: its statements are stored in its order
        assert [position[i] for i in ids] == sorted(position[i] for i in ids)
    if server.runtime.group_commit is not None:
        assert server.runtime.group_commit.requests == writers * per_writer


def _queued_in_order(server: LiveServer, requests, plug) -> list[httpx.Response]:
    """Send `plug` while the write lock is held, and once the writer has taken it (and waits for
    the lock with it), the requests, each once the previous one is queued; then let the writer
    go: the requests form the next group, in this order."""
    writer = server.runtime.group_commit
    groups_before = writer.groups
    with ThreadPoolExecutor(len(requests) + 1) as pool, writer.lock:
        taken = writer.taken
        plugged = pool.submit(plug)
        deadline = time.monotonic() + 10
        while writer.taken == taken:
            assert time.monotonic() < deadline, "the writer did not take the first request"
            time.sleep(0.002)
        futures = []
        for send in requests:
            queued = writer.queued
            futures.append(pool.submit(send))
            deadline = time.monotonic() + 10
            while writer.queued == queued and not futures[-1].done():
                assert time.monotonic() < deadline, "the request did not reach the writer"
                time.sleep(0.002)
    assert plugged.result().status_code == 200
    responses = [f.result() for f in futures]
    assert writer.groups == groups_before + 2
    return responses


def test_a_failing_request_does_not_fail_its_group(live):
    server, headers = live
    if server.runtime.group_commit is None:
        pytest.skip("group commit is SQLite's (on PostgreSQL every request has its own transaction)")
    existing = statement(id=new_id())
    assert _post(server.url, headers, existing).status_code == 200
    conflicting = {**existing, "verb": {"id": "https://rmtc.example/verbs/other"}}
    single, batch, put = statement(id=new_id()), [statement(id=new_id()) for _ in range(3)], statement()
    put_id = new_id()
    invalid = statement(actor={"objectType": "Agent"})  # no identifier
    plug = statement(id=new_id())
    responses = _queued_in_order(server, [
        lambda: _post(server.url, headers, single),
        lambda: _post(server.url, headers, conflicting),
        lambda: _post(server.url, headers, batch),
        lambda: _post(server.url, headers, invalid),
        lambda: _post(server.url, basic("no-such-key", "secret"), statement()),
        lambda: httpx.put(server.url + "/xapi/statements", json=put, params={"statementId": put_id}, headers=headers, timeout=30),
    ], plug=lambda: _post(server.url, headers, plug))
    assert [r.status_code for r in responses] == [200, 409, 200, 400, 401, 204]
    assert responses[0].json() == [single["id"]] and responses[2].json() == [s["id"] for s in batch]
    assert _stored_order(server, headers) == [existing["id"], plug["id"], single["id"], *(s["id"] for s in batch), put_id]
    got = httpx.get(server.url + "/xapi/statements", params={"statementId": existing["id"]}, headers=headers, timeout=30)
    assert got.json()["verb"]["id"] == existing["verb"]["id"]


def test_requests_of_a_group_that_refer_to_each_other_are_written_in_order(live):
    server, headers = live
    if server.runtime.group_commit is None:
        pytest.skip("group commit is SQLite's")
    target = statement(id=new_id())
    voiding = statement(id=new_id(), verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
                        object={"objectType": "StatementRef", "id": target["id"]})
    same_again = dict(target)
    plug = statement(id=new_id())
    responses = _queued_in_order(server, [
        lambda: _post(server.url, headers, target),
        lambda: _post(server.url, headers, voiding),
        lambda: _post(server.url, headers, same_again),  # the same statement again: accepted once
    ], plug=lambda: _post(server.url, headers, plug))
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert _stored_order(server, headers) == [plug["id"], voiding["id"]]  # the target is voided
    voided = httpx.get(server.url + "/xapi/statements", params={"voidedStatementId": target["id"]}, headers=headers, timeout=30)
    assert voided.status_code == 200 and voided.json()["id"] == target["id"]


def test_concurrent_writes_creating_the_same_terms_all_succeed_and_share_them(live):
    """Writers posting at once statements whose agent, verb, activity and registration are new
    to the store create the same index terms concurrently (on PostgreSQL in concurrent
    transactions): none fails, and every statement is found by each of its values."""
    server, headers = live
    writers, rounds, per_batch = 6, 4, 5
    barrier = threading.Barrier(writers)
    registrations = [str(uuid.uuid4()) for _ in range(rounds)]

    def shared(round_: int) -> dict:
        return statement(actor={"mbox": f"mailto:shared{round_}@mup.gov.mk"}, verb={"id": f"https://rmtc.example/verbs/shared{round_}"},
                         object={"id": f"https://rmtc.example/activities/shared{round_}"},
                         context={"registration": registrations[round_], "instructor": {"mbox": f"mailto:coach{round_}@mup.gov.mk"}})

    def writer(number: int) -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            for round_ in range(rounds):
                body = [{**shared(round_), "id": new_id()} for _ in range(per_batch)]
                barrier.wait(10)
                r = client.post("/xapi/statements", json=body)
                assert r.status_code == 200, r.text

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(writer, range(writers)))
    for round_ in range(rounds):
        for params in ({"verb": f"https://rmtc.example/verbs/shared{round_}"},
                       {"activity": f"https://rmtc.example/activities/shared{round_}"},
                       {"agent": f'{{"mbox": "mailto:shared{round_}@mup.gov.mk"}}'},
                       {"agent": f'{{"mbox": "mailto:coach{round_}@mup.gov.mk"}}', "related_agents": "true"},
                       {"registration": registrations[round_]}):
            r = httpx.get(server.url + "/xapi/statements", params={**params, "limit": "0", "format": "ids"}, headers=headers,
                          timeout=30)
            assert r.status_code == 200, r.text
            assert len(r.json()["statements"]) == writers * per_batch, params
