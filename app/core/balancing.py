"""Least-connections balancing of new connections between the worker processes of
`rmtc serve --workers N`.

uvicorn's workers share one listening socket and each accepts whenever its event loop is free;
uvloop even accepts without taking the GIL, so a worker busy with two statement batches takes a
third as readily as an idle worker does. Measured with batches of 100 and two workers: each
worker's writer sat idle 13-22% of the time while the other had all the work.

Here each worker reports how many connections it has open on a small shared board (a file of
one slot per worker, mapped into memory) and accepts a new connection only while no live worker
has fewer; ties accept and the kernel gives the connection to one of them. That is what a
least-connections load balancer (haproxy `leastconn`, nginx `least_conn`) does in front of
separate instances, without the extra hop. Workers look at the board only when a connection
arrives or one of theirs closes (no polling while idle). A worker that leaves a connection to a
less-loaded one checks every millisecond, for up to 4 ms, whether it was taken; if it is still
waiting and no worker has accepted anything meanwhile (the less-loaded one is held up), it takes
it: balancing can delay a connection by a few milliseconds but never strand it.

A worker that is to end (recycling, app.core.recycling) first drains: `drain_then` stops its
accepting (the others take every new connection), lets each connection it has finish the request
it is on or send its next one within a second, closes it after that response, and only then has
uvicorn shut the worker down. uvicorn's own shutdown closes at once every connection without a
request in progress, including one accepted a moment ago whose request has not been read yet and
a keep-alive one whose client is sending its next request: those clients get no response at all.

It is wired in through uvicorn's own extension point, a custom event loop (`loop=` accepts an
import string): `balanced_loop` makes uvicorn's usual loop (uvloop where installed) whose
`create_server(sock=...)` - the call every uvicorn worker makes for the shared socket - returns an
`Acceptor` instead of a plain server. `rmtc serve` creates the board and names it in
`RMTC_ACCEPT_BOARD` for its workers (with `--no-balance` the acceptor takes every connection it
can, as uvicorn's server would, and still drains); without that variable, or outside
`rmtc serve --workers N`, the loop is uvicorn's unchanged.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import functools
import logging
import mmap
import os
import select
import socket
import struct
import tempfile
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger("rmtc.serve")

BOARD_ENV = "RMTC_ACCEPT_BOARD"
# Set by `rmtc serve` for the worker processes when it runs several (as app.core.recycling reads it).
SUPERVISED_ENV = "RMTC_SUPERVISED_WORKERS"
# open connections, connections accepted so far, heartbeat (CLOCK_MONOTONIC, shared by all processes)
_SLOT = struct.Struct("<qqd")
HEARTBEAT = 0.25  # seconds between a worker's writes of its slot (while its event loop runs)
# How long a connection is left to a worker with fewer open before another takes it anyway.
GRACE_ENV = "RMTC_ACCEPT_GRACE_MS"
GRACE_MS = 4.0
_GRACE_STEP = 0.001
STALE = 1.0  # a slot whose heartbeat is older belongs to a worker that is gone or hung
# Resource shortages on accept: back off instead of spinning (asyncio does the same).
_ACCEPT_BACKOFF_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
# Draining: how long a connection without a request is waited for (for its next request), how
# long a drain lasts at most (then uvicorn's graceful shutdown takes over), how often it looks.
IDLE_WAIT = 1.0
DRAIN_LIMIT = 15.0
_DRAIN_STEP = 0.005


class LoadBoard:
    """One slot per worker: its open connections, how many it has accepted and when it last wrote.

    A worker claims a free slot by taking a lock on the slot's first byte (released by the kernel
    when the process ends, so a restarted worker finds the slot free again). Reads are not
    synchronised: a slot read while being written gives a stale or torn figure for one decision,
    which costs at most one less-balanced connection."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._fd = os.open(path, os.O_RDWR)
        size = os.fstat(self._fd).st_size
        if size == 0 or size % _SLOT.size:
            os.close(self._fd)
            raise ValueError(f"{path} is not a load board ({size} bytes)")
        self.slots = size // _SLOT.size
        self._map = mmap.mmap(self._fd, size)
        self.slot: int | None = None
        self._accepted = 0

    @staticmethod
    def create(slots: int, directory: str | os.PathLike[str] | None = None) -> Path:
        """A new board file with `slots` empty slots; the caller removes it when serving ends."""
        fd, name = tempfile.mkstemp(prefix="rmtc-accept-", suffix=".board", dir=directory)
        with os.fdopen(fd, "wb") as file:
            file.write(_SLOT.pack(0, 0, 0.0) * slots)
        return Path(name)

    def claim(self) -> int | None:
        """Take a free slot for this process (None: every slot is held by a live process)."""
        for index in range(self.slots):
            try:
                fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, index * _SLOT.size)
            except OSError:
                continue
            self.slot = index
            self.publish(0)
            return index
        return None

    def publish(self, connections: int, accepted: int = 0) -> None:
        """Write this worker's open connections (and count `accepted` new ones)."""
        if self.slot is None:  # released: serving has ended
            return
        self._accepted += accepted
        _SLOT.pack_into(self._map, self.slot * _SLOT.size, connections, self._accepted, time.monotonic())

    def least_loaded(self, connections: int) -> bool:
        """Whether no other live worker has fewer open connections than `connections`."""
        return all(theirs >= connections for index, theirs in self._live() if index != self.slot)

    def open_connections(self) -> list[int]:
        """Each live slot's open connections (for tests and diagnostics)."""
        return [theirs for _, theirs in self._live()]

    def accepted(self) -> int:
        """Connections accepted by all workers so far (it changes whenever any worker accepts)."""
        return sum(accepted for _, _, accepted, _ in self._slots())

    def _live(self) -> Iterator[tuple[int, int]]:
        """(slot, open connections) of the slots written within the last `STALE` seconds."""
        oldest = time.monotonic() - STALE
        for index, theirs, _, heartbeat in self._slots():
            if heartbeat >= oldest:
                yield index, theirs

    def _slots(self) -> Iterator[tuple[int, int, int, float]]:
        """(slot, open connections, accepted, heartbeat) of every slot, as last written."""
        for index in range(self.slots):
            yield index, *_SLOT.unpack_from(self._map, index * _SLOT.size)

    def release(self) -> None:
        """Give up the slot (its heartbeat is cleared so the others stop counting it)."""
        if self.slot is not None:
            _SLOT.pack_into(self._map, self.slot * _SLOT.size, 0, self._accepted, 0.0)
            fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, self.slot * _SLOT.size)
            self.slot = None

    def close(self) -> None:
        self.release()
        self._map.close()
        os.close(self._fd)


class Unbalanced:
    """The board of a worker that takes every connection it can (`rmtc serve --no-balance`)."""

    def least_loaded(self, connections: int) -> bool:
        return True

    def publish(self, connections: int, accepted: int = 0) -> None:
        pass

    def accepted(self) -> int:
        return 0

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass


class Acceptor:
    """Accepts connections on a shared listening socket for one worker, balancing by the board.

    Stands in for the `asyncio.Server` uvicorn keeps for the socket: uvicorn only calls `close()`
    and `wait_closed()` on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 protocol_factory: Callable[[], asyncio.Protocol], board: LoadBoard | Unbalanced,
                 backlog: int = 100, grace: float = GRACE_MS / 1000) -> None:
        self._loop = loop
        self._grace = grace
        self._sock = sock
        self._factory = protocol_factory
        self._board = board
        self._open = 0
        self._connections: set[_Counted] = set()
        self.draining = False
        self._wake: asyncio.Future[str] | None = None
        sock.setblocking(False)
        sock.listen(backlog)
        self._task: asyncio.Task[None] | None = loop.create_task(self._run())
        self._beat = loop.call_later(HEARTBEAT, self._heartbeat)
        _acceptors.append(self)

    def close(self) -> None:
        self._stop_accepting()
        if self in _acceptors:
            _acceptors.remove(self)

    def _stop_accepting(self) -> None:
        self._beat.cancel()
        if self._task is not None:
            self._task.cancel()
            # Now, while the socket is open: uvicorn closes it before the task sees the cancel.
            self._loop.remove_reader(self._sock.fileno())
        self._board.release()  # the others stop leaving connections to this worker

    async def drain(self) -> None:
        """Stop accepting, then close every connection after the request it is on or is about
        to send. Each request in progress, and each that arrives from now on, is answered with
        `Connection: close` (uvicorn then closes the connection). A connection without one (new,
        or idle between keep-alive requests) gets `IDLE_WAIT` seconds from when the drain first
        sees it idle to send a request and is closed if nothing arrives. Returns when every
        connection this worker accepted is closed."""
        self._stop_accepting()
        self.draining = True
        for connection in list(self._connections):
            connection.close_after_response()
        idle_since: dict[_Counted, float] = {}
        asked: set[_Counted] = set()
        while self._open > 0:
            now = self._loop.time()
            for connection in list(self._connections):
                if connection in asked or connection.busy() or _unread(connection.protocol):
                    continue  # it closes after its response, or a request is on its way
                since = idle_since.setdefault(connection, now)
                if connection.received <= since and now - since >= IDLE_WAIT:
                    asked.add(connection)
                    connection.shutdown()
            await asyncio.sleep(_DRAIN_STEP)

    async def wait_closed(self) -> None:
        if self._task is not None:
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
            self._board.close()

    def _heartbeat(self) -> None:
        self._board.publish(self._open)
        self._beat = self._loop.call_later(HEARTBEAT, self._heartbeat)

    async def _run(self) -> None:
        fd = self._sock.fileno()
        while True:
            if await self._wait(fd) != "ready":
                continue  # one of ours closed
            # Take it if no worker has fewer open; else leave it to one that has.
            if self._board.least_loaded(self._open) or await self._left_waiting():
                await self._accept()

    async def _left_waiting(self) -> bool:
        """Whether the waiting connection falls to this worker after all: it becomes the least
        loaded, or the connection is still waiting after the grace period with no worker having
        accepted any meanwhile (the ones with fewer open are held up). Looked at every
        millisecond, so that this worker is not deaf to new connections for the whole period once
        the others have taken this one."""
        before = self._board.accepted()
        deadline = self._loop.time() + self._grace
        while True:
            left = deadline - self._loop.time()
            if await self._wait(None, min(_GRACE_STEP, max(left, 0.0))) == "closed":
                return False  # one of ours closed: decide again
            if self._board.accepted() != before or not _readable(self._sock):
                return False  # the others are taking connections
            if self._board.least_loaded(self._open) or left <= 0:
                return True

    async def _wait(self, fd: int | None, timeout: float | None = None) -> str:
        """Until the socket `fd` has a connection waiting ("ready"), one of ours closes ("closed")
        or `timeout` seconds pass ("timeout")."""
        wake: asyncio.Future[str] = self._loop.create_future()
        self._wake = wake
        timer = self._loop.call_later(timeout, _settle, wake, "timeout") if timeout is not None else None
        if fd is not None:
            self._loop.add_reader(fd, _settle, wake, "ready")
        try:
            return await wake
        finally:
            if timer is not None:
                timer.cancel()
            if fd is not None:
                self._loop.remove_reader(fd)
            self._wake = None

    async def _accept(self) -> None:
        try:
            conn, _ = self._sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return  # another worker took it, or the client gave up
        except OSError as exc:
            if exc.errno not in _ACCEPT_BACKOFF_ERRNOS:
                raise
            logger.warning("cannot accept connections: %s; retrying in 0.1 s", exc)
            await asyncio.sleep(0.1)
            return
        conn.setblocking(False)
        self._open += 1
        self._board.publish(self._open, accepted=1)
        self._loop.create_task(self._connect(conn))

    async def _connect(self, conn: socket.socket) -> None:
        counted = _Counted(self)
        try:
            await self._loop.connect_accepted_socket(lambda: counted.wrap(self._factory()), conn)
        except Exception:  # noqa: BLE001 - the connection failed before the protocol saw it
            conn.close()
            counted.closed()

    def _closed(self, counted: _Counted) -> None:
        self._connections.discard(counted)
        self._open -= 1
        self._board.publish(self._open)
        if self._wake is not None:
            _settle(self._wake, "closed")


class _Counted:
    """One connection an acceptor accepted: tells the acceptor, exactly once, that it is gone, and
    notes when its client last sent something (for draining)."""

    __slots__ = ("_acceptor", "_done", "_clock", "received", "protocol")

    def __init__(self, acceptor: Acceptor) -> None:
        self._acceptor = acceptor
        self._done = False
        self._clock = acceptor._loop.time
        self.received = float("-inf")  # when its client last sent something (event loop time)
        self.protocol: asyncio.Protocol | None = None

    def wrap(self, protocol: asyncio.Protocol) -> asyncio.Protocol:
        lost, received = protocol.connection_lost, protocol.data_received

        def connection_lost(exc: Exception | None) -> None:
            self.closed()
            lost(exc)

        def data_received(data: bytes) -> None:
            self.received = self._clock()
            received(data)
            if self._acceptor.draining:
                self.close_after_response()  # a request that has just arrived

        # Set before the transport is made: uvloop binds the protocol's methods then.
        protocol.connection_lost = connection_lost  # type: ignore[method-assign]
        protocol.data_received = data_received  # type: ignore[method-assign]
        self.protocol = protocol
        self._acceptor._connections.add(self)
        return protocol

    def busy(self) -> bool:
        """Whether a request is in progress. Read from uvicorn's protocols, which keep the
        current request's `cycle` (None before the first request)."""
        cycle = getattr(self.protocol, "cycle", None)
        return cycle is not None and not getattr(cycle, "response_complete", True)

    def close_after_response(self) -> None:
        """Have the request in progress, if any, answered with `Connection: close`."""
        if self.busy():
            self.shutdown()

    def shutdown(self) -> None:
        """uvicorn's protocols close an idle connection at once and one with a request in
        progress after its response; any other protocol is closed."""
        shutdown = getattr(self.protocol, "shutdown", None)
        if shutdown is not None:
            shutdown()
        elif (transport := getattr(self.protocol, "transport", None)) is not None:
            transport.close()

    def closed(self) -> None:
        if not self._done:
            self._done = True
            self._acceptor._closed(self)


def _unread(protocol: asyncio.Protocol | None) -> int:
    """Bytes received on the protocol's socket that the event loop has not read yet (0 once it
    is closed)."""
    transport = getattr(protocol, "transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    try:
        fd = sock.fileno() if sock is not None else -1
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0] if fd >= 0 else 0
    except (OSError, ValueError):
        return 0


# Acceptors of this process (one per listening socket), for draining.
_acceptors: list[Acceptor] = []
_draining: set[asyncio.Task[None]] = set()


def drain_then(end: Callable[[], None], limit: float = DRAIN_LIMIT) -> None:
    """Drain this worker's acceptors (`Acceptor.drain`, at most `limit` seconds), then call `end`
    on the event loop. Callable from any thread; without acceptors (a worker whose loop is
    uvicorn's own), `end` is called at once."""
    acceptors = list(_acceptors)
    if not acceptors:
        end()
        return
    loop = acceptors[0]._loop

    async def drain() -> None:
        try:
            await asyncio.wait_for(asyncio.gather(*(acceptor.drain() for acceptor in acceptors)), limit)
        except TimeoutError:
            logger.warning("connections still open after %.0f s of draining: shutting down anyway", limit)
        finally:
            end()

    def start() -> None:
        task = loop.create_task(drain())
        _draining.add(task)
        task.add_done_callback(_draining.discard)

    loop.call_soon_threadsafe(start)


def _settle(future: asyncio.Future[str], value: str) -> None:
    if not future.done():
        future.set_result(value)


def _readable(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


class _BalancingLoop:
    """Mixed into an event loop class: `create_server(sock=...)` balances by the board named in
    `RMTC_ACCEPT_BOARD`; every other use is the loop's own."""

    async def create_server(self, protocol_factory: Callable[[], asyncio.Protocol], host: Any = None,
                            port: Any = None, *, sock: socket.socket | None = None, ssl: Any = None,
                            backlog: int = 100, **kwargs: Any) -> Any:
        path = os.environ.get(BOARD_ENV)
        if sock is not None and ssl is None and path:
            board = LoadBoard(path)
            if board.claim() is not None:
                return Acceptor(self, sock, protocol_factory, board, backlog, _grace())  # type: ignore[arg-type]
            board.close()
            logger.warning("every slot of the accept board %s is taken: accepting unbalanced", path)
            return Acceptor(self, sock, protocol_factory, Unbalanced(), backlog)  # type: ignore[arg-type]
        if sock is not None and ssl is None and os.environ.get(SUPERVISED_ENV) == "1":
            return Acceptor(self, sock, protocol_factory, Unbalanced(), backlog)  # type: ignore[arg-type]
        return await super().create_server(  # type: ignore[misc]
            protocol_factory, host, port, sock=sock, ssl=ssl, backlog=backlog, **kwargs)


def _grace() -> float:
    """Seconds from `RMTC_ACCEPT_GRACE_MS` (default 4 ms; a value that is not a number >= 0 is
    reported and the default used)."""
    text = os.environ.get(GRACE_ENV, "")
    try:
        value = float(text) if text else GRACE_MS
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        logger.warning("%s=%r is not a number of milliseconds >= 0: using %s", GRACE_ENV, text, GRACE_MS)
        value = GRACE_MS
    return value / 1000


def balanced_loop() -> asyncio.AbstractEventLoop:
    """uvicorn's loop (uvloop if installed, else asyncio's) with balanced accepts."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return _loop_class(asyncio.SelectorEventLoop)()
    return _loop_class(uvloop.Loop)()


@functools.cache
def _loop_class(base: type) -> type:
    return type("BalancedLoop", (_BalancingLoop, base), {})
