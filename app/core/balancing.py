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
`RMTC_ACCEPT_BOARD` for its workers. With `--no-balance` (no board) a worker of `rmtc serve
--workers N` gets the loop's own server wrapped in a `Listener`, which counts its connections so
that it can drain too; outside `rmtc serve --workers N` the loop is uvicorn's unchanged.
"""

from __future__ import annotations

import abc
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
_DRAIN_STEP = 0.02


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


class Connections(abc.ABC):
    """The connections one worker accepted on its listening socket: counted, and drained when
    the worker is to end (`drain`). Base of `Acceptor` (balanced accepts) and `Listener` (the
    loop's own server, `--no-balance`); both stand in for the `asyncio.Server` uvicorn keeps
    for the socket, on which uvicorn only calls `close()` and `wait_closed()`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._open = 0  # accepted and not closed yet (including those whose protocol is not made yet)
        self._connections: set[_Counted] = set()
        self.draining = False
        _registry.append(self)

    def close(self) -> None:
        self._stop_accepting()
        if self in _registry:
            _registry.remove(self)

    @abc.abstractmethod
    def _stop_accepting(self) -> None:
        """Take no more connections (the other workers take them)."""

    def _closed(self, counted: _Counted) -> None:
        self._connections.discard(counted)
        self._open -= 1

    async def drain(self) -> int:
        """Stop accepting, then close every connection after the request it is on or is about
        to send; return how many were open. A request arriving from now on, and one in progress
        whose response has not started, is answered with `Connection: close` (uvicorn then
        closes the connection). A connection without a request in progress (new, between
        keep-alive requests, or whose response was already under way) gets `IDLE_WAIT` seconds
        from the drain's start or from the last bytes it sent, whichever is later, to send a
        request, and is closed if it sends none. Pipelined requests behind the one answered with
        `Connection: close` are not answered (HTTP has the client send them again). Returns when
        every connection this worker accepted is closed."""
        self._stop_accepting()
        self.draining = True
        total = self._open
        for connection in list(self._connections):
            connection.close_after_response()
        started = self._loop.time()
        asked: set[_Counted] = set()
        while True:
            now = self._loop.time()
            open_ = self._open - len(self._connections)  # accepted, protocol not made yet
            for connection in list(self._connections):
                if connection.closing():
                    continue
                open_ += 1
                if connection in asked or connection.busy() or connection.unread():
                    continue  # it closes after its response, or a request is on its way
                if now - max(started, connection.received) >= IDLE_WAIT:
                    asked.add(connection)
                    connection.shutdown()
            if not open_:
                return total
            await asyncio.sleep(_DRAIN_STEP)


class Acceptor(Connections):
    """Accepts connections on a shared listening socket for one worker, balancing by the board."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 protocol_factory: Callable[[], asyncio.Protocol], board: LoadBoard,
                 backlog: int = 100, grace: float = GRACE_MS / 1000) -> None:
        super().__init__(loop)
        self._grace = grace
        self._sock = sock
        self._factory = protocol_factory
        self._board = board
        self._wake: asyncio.Future[str] | None = None
        sock.setblocking(False)
        sock.listen(backlog)
        self._task: asyncio.Task[None] | None = loop.create_task(self._run())
        self._beat = loop.call_later(HEARTBEAT, self._heartbeat)

    def _stop_accepting(self) -> None:
        self._beat.cancel()
        if self._task is not None:
            self._task.cancel()
            # Now, while the socket is open: uvicorn closes it before the task sees the cancel.
            self._loop.remove_reader(self._sock.fileno())
        self._board.release()  # the others stop leaving connections to this worker

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
        super()._closed(counted)
        self._board.publish(self._open)
        if self._wake is not None:
            _settle(self._wake, "closed")


class Listener(Connections):
    """The loop's own server on the shared socket (accepting as uvicorn's would: `--no-balance`),
    its connections counted so that the worker can drain."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self._server: asyncio.AbstractServer | None = None

    def factory(self, protocol_factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        def made() -> asyncio.Protocol:
            protocol = protocol_factory()
            self._open += 1
            return _Counted(self).wrap(protocol)

        return made

    def _stop_accepting(self) -> None:
        if self._server is not None:
            self._server.close()  # this process's copy of the socket: the other workers keep theirs

    async def wait_closed(self) -> None:
        if self._server is not None:
            await self._server.wait_closed()


class _Counted:
    """One connection a worker accepted: tells its `Connections`, exactly once, that it is gone,
    notes when its client last sent something and, while the worker drains, has each request that
    arrives answered with `Connection: close`."""

    __slots__ = ("_owner", "_done", "_clock", "received", "protocol")

    def __init__(self, owner: Connections) -> None:
        self._owner = owner
        self._done = False
        self._clock = owner._loop.time
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
            if self._owner.draining:
                self.close_after_response()  # a request that has just arrived

        # Set before the transport is made: uvloop binds the protocol's methods then.
        protocol.connection_lost = connection_lost  # type: ignore[method-assign]
        protocol.data_received = data_received  # type: ignore[method-assign]
        self.protocol = protocol
        self._owner._connections.add(self)
        return protocol

    def busy(self) -> bool:
        """Whether a request is in progress. Read from uvicorn's protocols, which keep the
        current request's `cycle` (None before the first request)."""
        cycle = getattr(self.protocol, "cycle", None)
        return cycle is not None and not getattr(cycle, "response_complete", True)

    def close_after_response(self) -> None:
        """Have the request in progress answered with `Connection: close`, unless its response
        has started (it goes out as it began, keep-alive: the drain then treats the connection
        as idle)."""
        cycle = getattr(self.protocol, "cycle", None)
        if cycle is not None and not getattr(cycle, "response_started", True):
            self.shutdown()  # uvicorn: cycle.keep_alive = False

    def closing(self) -> bool:
        transport = getattr(self.protocol, "transport", None)
        return transport is not None and transport.is_closing()

    def unread(self) -> bool:
        """Whether bytes its client sent wait in the socket, not yet read by the event loop."""
        transport = getattr(self.protocol, "transport", None)
        if transport is None or self.closing():
            return False
        sock = transport.get_extra_info("socket")
        try:
            buffer = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
        except (AttributeError, OSError, ValueError):
            return False
        return struct.unpack("i", buffer)[0] > 0

    def shutdown(self) -> None:
        """uvicorn's protocols close an idle connection at once and one with a request in
        progress after its response; any other protocol is closed."""
        try:
            shutdown = getattr(self.protocol, "shutdown", None)
            if shutdown is not None:
                shutdown()
            elif (transport := getattr(self.protocol, "transport", None)) is not None:
                transport.close()
        except Exception:  # noqa: BLE001 - a connection in a bad state: closed without ceremony
            logger.warning("closing a connection while draining failed; aborting it", exc_info=True)
            transport = getattr(self.protocol, "transport", None)
            if transport is not None:
                transport.abort()

    def closed(self) -> None:
        if not self._done:
            self._done = True
            self._owner._closed(self)


# What each worker process accepts connections through (one per listening socket), for draining.
_registry: list[Connections] = []
_draining: set[asyncio.Task[None]] = set()


def drain_then(end: Callable[[], None], limit: float = DRAIN_LIMIT) -> None:
    """Drain this worker's connections (`Connections.drain`, at most `limit` seconds), then call
    `end` on the event loop. Callable from any thread; when the loop is uvicorn's own (nothing to
    drain through), `end` is called at once."""
    registered = list(_registry)
    if not registered:
        end()
        return
    loop = registered[0]._loop

    async def drain() -> None:
        started = loop.time()
        try:
            closed = sum(await asyncio.wait_for(asyncio.gather(*(c.drain() for c in registered)), limit))
        except TimeoutError:
            logger.warning("worker %s: connections still open after %.0f s of draining; shutting down anyway",
                           os.getpid(), limit)
        except Exception:  # noqa: BLE001 - never left unended: shut down as uvicorn would
            logger.exception("worker %s: draining failed; shutting down anyway", os.getpid())
        else:
            logger.info("worker %s drained: %s connections closed in %.2f s", os.getpid(), closed,
                        loop.time() - started)
        end()  # not when cancelled: the loop is ending anyway

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
        if sock is not None and os.environ.get(SUPERVISED_ENV) == "1":
            listener = Listener(self)  # type: ignore[arg-type]
            listener._server = await super().create_server(  # type: ignore[misc]
                listener.factory(protocol_factory), host, port, sock=sock, ssl=ssl, backlog=backlog, **kwargs)
            return listener
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
