"""Least-connections accept balancing (`app.core.balancing`): the board shared by worker
processes, and real worker processes accepting on one shared listening socket."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import socket
import time

import pytest

from app.core import balancing
from app.core.balancing import LoadBoard

SPAWN = multiprocessing.get_context("spawn")


# The board --------------------------------------------------------------------------------------

def _hold_slot(path: str, claimed, release) -> None:
    board = LoadBoard(path)
    claimed.put(board.claim())
    board.publish(3)
    release.wait(30)
    board.close()


def test_a_slot_held_by_a_live_process_is_not_claimed_again_and_is_freed_when_it_ends(tmp_path):
    path = LoadBoard.create(2, tmp_path)
    claimed, release = SPAWN.Queue(), SPAWN.Event()
    holder = SPAWN.Process(target=_hold_slot, args=(str(path), claimed, release))
    holder.start()
    try:
        assert claimed.get(timeout=30) == 0
        board = LoadBoard(path)
        assert board.claim() == 1
        board.publish(4)
        assert not board.least_loaded(4)  # the other worker has 3 open
        assert board.least_loaded(3)  # a tie still accepts
    finally:
        release.set()
        holder.join(30)
    # The holder ended: its lock is gone and its slot cleared, so it no longer counts.
    assert board.least_loaded(100)
    board.close()
    again = LoadBoard(path)
    assert again.claim() == 0
    again.close()


def test_a_worker_that_stopped_writing_is_not_counted(tmp_path, monkeypatch):
    path = LoadBoard.create(2, tmp_path)
    board = LoadBoard(path)
    other = LoadBoard(path)
    board.slot, other.slot = 0, 1  # written directly: both in one process
    other.publish(0)
    board.publish(5)
    assert not board.least_loaded(5)
    later = time.monotonic() + balancing.STALE + 1
    monkeypatch.setattr(balancing.time, "monotonic", lambda: later)
    assert board.least_loaded(5)  # the other slot's heartbeat is too old
    board.close()
    other.close()


def test_accepted_connections_are_counted_over_all_workers(tmp_path):
    path = LoadBoard.create(2, tmp_path)
    board, other = LoadBoard(path), LoadBoard(path)
    board.slot, other.slot = 0, 1
    board.publish(1, accepted=1)
    other.publish(2, accepted=2)
    before = board.accepted()
    assert before == 3
    board.publish(0)  # a close: no accept
    assert board.accepted() == before
    other.publish(3, accepted=1)
    assert board.accepted() == 4
    board.close()
    other.close()


def test_a_file_that_is_not_a_board_is_refused(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"x" * 5)
    with pytest.raises(ValueError, match="not a load board"):
        LoadBoard(bad)


def test_without_a_board_the_loop_serves_a_socket_as_usual(tmp_path, monkeypatch):
    monkeypatch.delenv(balancing.BOARD_ENV, raising=False)
    loop = balancing.balanced_loop()
    sock = socket.create_server(("127.0.0.1", 0))
    try:
        server = loop.run_until_complete(loop.create_server(asyncio.Protocol, sock=sock))
        assert not isinstance(server, balancing.Acceptor)
        server.close()
        loop.run_until_complete(server.wait_closed())
    finally:
        loop.close()


class _Quiet(asyncio.Protocol):
    pass  # (asyncio.Protocol itself has __slots__: the acceptor sets methods on its protocols)


def test_a_supervised_worker_without_a_board_serves_through_a_listener_that_counts(monkeypatch):
    # `rmtc serve --workers N --no-balance`: the loop's own server, its connections counted so
    # that the worker can drain.
    monkeypatch.delenv(balancing.BOARD_ENV, raising=False)
    monkeypatch.setenv(balancing.SUPERVISED_ENV, "1")
    loop = balancing.balanced_loop()
    sock = socket.create_server(("127.0.0.1", 0))
    try:
        server = loop.run_until_complete(loop.create_server(_Quiet, sock=sock))
        assert isinstance(server, balancing.Listener)
        assert balancing._registry == [server]
        client = socket.create_connection(sock.getsockname(), timeout=5)
        loop.run_until_complete(asyncio.sleep(0.2))
        assert server._open == 1
        client.close()
        loop.run_until_complete(asyncio.sleep(0.2))
        assert server._open == 0
        server.close()
        loop.run_until_complete(server.wait_closed())
        assert balancing._registry == []
    finally:
        loop.close()
        sock.close()


# Worker processes on one socket --------------------------------------------------------------

class _Tell(asyncio.Protocol):
    """Says which process accepted; `block` holds that process's event loop for 3 s (longer than
    the workers' 1 s grace)."""

    def connection_made(self, transport) -> None:
        transport.write(f"{os.getpid()}\n".encode())

    def data_received(self, data: bytes) -> None:
        if data.startswith(b"block"):
            time.sleep(3.0)


def _worker(sock: socket.socket, board: str, ready, stop) -> None:
    os.environ[balancing.BOARD_ENV] = board
    # A worker left 4 ms to take "its" connection may be descheduled that long on a busy test
    # machine; exact spreads need a grace longer than scheduling delays.
    os.environ[balancing.GRACE_ENV] = "1000"
    loop = balancing.balanced_loop()

    async def main() -> None:
        server = await loop.create_server(_Tell, sock=sock)
        assert isinstance(server, balancing.Acceptor)
        ready.put(os.getpid())
        await loop.run_in_executor(None, stop.wait, 60)
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())
    loop.close()


@pytest.fixture
def two_workers(tmp_path):
    sock = socket.create_server(("127.0.0.1", 0))
    board = LoadBoard.create(2, tmp_path)
    ready, stop = SPAWN.Queue(), SPAWN.Event()
    procs = [SPAWN.Process(target=_worker, args=(sock, str(board), ready, stop)) for _ in range(2)]
    for proc in procs:
        proc.start()
    pids = {ready.get(timeout=60), ready.get(timeout=60)}
    connections: list[socket.socket] = []

    def connect() -> tuple[socket.socket, int]:
        conn = socket.create_connection(sock.getsockname(), timeout=10)
        connections.append(conn)
        return conn, int(conn.makefile().readline())

    yield pids, connect, LoadBoard(board)
    for conn in connections:
        conn.close()
    stop.set()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    sock.close()


def _wait_for(predicate, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_each_new_connection_goes_to_a_worker_with_the_fewest_open(two_workers):
    pids, connect, board = two_workers
    by_worker: dict[int, list[socket.socket]] = {pid: [] for pid in pids}
    for opened in range(1, 7):
        conn, pid = connect()
        by_worker[pid].append(conn)
        assert sorted(len(c) for c in by_worker.values()) == [opened // 2, (opened + 1) // 2]
    # One worker's clients leave: the next connections all go to it until it catches up.
    quiet = min(pids)
    for conn in by_worker[quiet]:
        conn.close()
    _wait_for(lambda: sorted(board.open_connections()) == [0, 3])
    for _ in range(3):
        conn, pid = connect()
        assert pid == quiet
    _, pid = connect()  # a tie again: either
    assert pid in pids


def test_a_connection_is_not_stranded_while_the_least_loaded_worker_is_held_up(two_workers):
    pids, connect, board = two_workers
    by_worker: dict[int, list[socket.socket]] = {pid: [] for pid in pids}
    for _ in range(4):
        conn, pid = connect()
        by_worker[pid].append(conn)
    assert sorted(len(c) for c in by_worker.values()) == [2, 2]
    held, other = sorted(pids)
    by_worker[held].pop().close()
    _wait_for(lambda: sorted(board.open_connections()) == [1, 2])
    by_worker[held][0].sendall(b"block")  # its event loop now sleeps for 3 s
    time.sleep(0.05)
    started = time.monotonic()
    _, pid = connect()
    assert pid == other
    assert time.monotonic() - started < 2.5  # after the grace, long before the held worker wakes


@pytest.mark.parametrize(("value", "seconds"), [(None, 0.004), ("150", 0.15), ("0", 0.0), ("soon", 0.004),
                                                ("-5", 0.004), ("nan", 0.004)])
def test_the_grace_period_comes_from_the_environment_and_bad_values_keep_the_default(monkeypatch, value, seconds):
    if value is None:
        monkeypatch.delenv(balancing.GRACE_ENV, raising=False)
    else:
        monkeypatch.setenv(balancing.GRACE_ENV, value)
    assert balancing._grace() == pytest.approx(seconds)


# Draining a worker before it ends ---------------------------------------------------------------

async def _drain_app(scope, receive, send) -> None:
    """/slow answers after 4 s; /stream sends its headers, then its body 1 s later; /drain starts
    draining this worker (then SIGTERM, as recycling does); every answer names the path and the
    process."""
    if scope["path"] == "/slow":
        await asyncio.sleep(4)
    if scope["path"] == "/drain":
        balancing.drain_then(lambda: os.kill(os.getpid(), signal.SIGTERM))
    body = f"{scope['path']} {os.getpid()}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    if scope["path"] == "/stream":
        await asyncio.sleep(1)
    await send({"type": "http.response.body", "body": body})


def _uvicorn_worker(sock: socket.socket, board: str | None) -> None:
    import uvicorn

    os.environ[balancing.SUPERVISED_ENV] = "1"
    if board:
        os.environ[balancing.BOARD_ENV] = board
    balancing.IDLE_WAIT = 2.0  # long enough for the test's requests on a busy machine
    config = uvicorn.Config(_drain_app, loop="app.core.balancing:balanced_loop", lifespan="off", ws="none",
                            log_level="warning", timeout_graceful_shutdown=20)
    uvicorn.Server(config).run(sockets=[sock])


def _request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode()


def _response(conn: socket.socket) -> tuple[str, bytes]:
    """One response read from `conn`: its head (lower case) and body ("" and b"" when the server
    closes the connection without one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return "", b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, "closed in the middle of a response"
        body += chunk
    return head.decode().lower(), body


def _closed(conn: socket.socket) -> bool:
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("balanced", [True, False], ids=["acceptor", "listener"])
def test_a_draining_worker_answers_what_its_connections_send_then_closes_them_and_takes_no_new_ones(
        tmp_path, balanced):
    sock = socket.create_server(("127.0.0.1", 0))
    address = sock.getsockname()
    board = str(LoadBoard.create(1, tmp_path)) if balanced else None
    proc = SPAWN.Process(target=_uvicorn_worker, args=(sock, board))
    proc.start()
    connections: list[socket.socket] = []

    def connect() -> socket.socket:
        conn = socket.create_connection(address, timeout=30)
        connections.append(conn)
        return conn

    try:
        keep_alive = connect()  # between requests when the drain begins, sends another during it
        keep_alive.sendall(_request("/ok"))
        head, body = _response(keep_alive)
        assert head.startswith("http/1.1 200") and body.startswith(b"/ok ")
        pid = int(body.split()[1])
        silent = connect()  # new, sends nothing at all
        late = connect()  # new, sends its request only after the drain has begun
        slow = connect()  # a request in progress during the drain
        slow.sendall(_request("/slow"))
        streaming = connect()  # a response under way when the drain begins
        streaming.sendall(_request("/stream"))
        time.sleep(0.3)
        control = connect()  # starts the drain, then sends nothing more
        control.sendall(_request("/drain"))
        head, body = _response(control)
        assert body == f"/drain {pid}".encode()
        began = time.monotonic()
        # Its headers went out keep-alive before the drain: the response ends as it began, and
        # the connection may still carry one more request, answered with `Connection: close`.
        head, body = _response(streaming)
        assert body == f"/stream {pid}".encode() and "connection: close" not in head
        time.sleep(0.3)
        # uvicorn's shutdown alone would close these three without an answer.
        for conn, path in ((keep_alive, "/again"), (late, "/late"), (streaming, "/after")):
            conn.sendall(_request(path))
            head, body = _response(conn)
            assert head.startswith("http/1.1 200") and body == f"{path} {pid}".encode()
            assert "connection: close" in head
            conn.settimeout(5)
            assert _closed(conn)  # after that response
        # A connection made during the drain waits in the listening socket's queue: this worker
        # does not take it (the other workers would).
        newcomer = connect()
        newcomer.sendall(_request("/new"))
        newcomer.settimeout(0.5)
        with pytest.raises(TimeoutError):
            newcomer.recv(1)
        control.settimeout(10)
        assert _closed(control)  # it sent nothing more: closed after IDLE_WAIT (2 s)
        assert 1.8 <= time.monotonic() - began < 3.5
        silent.settimeout(5)
        assert _closed(silent)
        assert proc.is_alive()  # still serving /slow (until ~3.7 s after the drain began)
        head, body = _response(slow)
        assert body == f"/slow {pid}".encode() and "connection: close" in head and _closed(slow)
        proc.join(30)
        # The drain ended in SIGTERM: uvicorn shut down, then re-raised the signal it had caught.
        assert proc.exitcode == -signal.SIGTERM
    finally:
        for conn in connections:
            conn.close()
        if proc.is_alive():
            proc.kill()
            proc.join()
        sock.close()


def test_with_nothing_to_drain_the_end_is_called_at_once(monkeypatch):
    monkeypatch.setattr(balancing, "_registry", [])
    ended = []
    balancing.drain_then(lambda: ended.append(True))
    assert ended == [True]
