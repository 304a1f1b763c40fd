"""Least-connections accept balancing (`app.core.balancing`): the board shared by worker
processes, and real worker processes accepting on one shared listening socket."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
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
