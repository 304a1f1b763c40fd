"""`rmtc serve --workers 2` on the test's database (SQLite: two processes writing through the
shared write lock; PostgreSQL: independent transactions): concurrent single and batch POSTs are
all stored exactly once, each writer's statements in its order, with no server error."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import pytest

from app.core import recycling
from app.core.balancing import LoadBoard
from tests.xapi.conftest import new_id, statement

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return f"{pid} gone"


def _children(pid: int) -> list[int]:
    """The worker processes of `rmtc serve` (not multiprocessing's resource tracker, which starts
    with the first worker that replaces another)."""
    try:
        pids = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return [p for p in pids if "spawn_main" in _cmdline(p)]


def _stored_ids(url: str, headers, *, limit: int = 500) -> list[str]:
    """Every statement's id, in `stored` order (paging through `more`)."""
    stored, more = [], f"/xapi/statements?ascending=true&format=ids&limit={limit}"
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        while more:
            page = client.get(more).json()
            stored += [s["id"] for s in page["statements"]]
            more = page["more"]
    return stored


@contextmanager
def _serve(settings, lrs, tmp_path, *args: str, **extra_env: str):
    """`rmtc serve --workers 2` on the test's database; checks its log for server errors at the end."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RMTC_")}
    env.update(PYTHONPATH=str(ROOT), RMTC_ENV="test", RMTC_DATA_DIR=str(settings.data_dir),
               RMTC_DATABASE_URL=settings.database_url, RMTC_PUBLIC_BASE_URL=settings.public_base_url,
               RMTC_PACKAGE_WORKER_ENABLED="false", RMTC_ASSESSMENT_SWEEP_SECONDS="0", RMTC_LOG_JSON="true",
               TMPDIR=str(tmp_path),  # where the accept board goes
               RMTC_ACCEPT_GRACE_MS="1000",  # exact spreads even when the test machine is busy
               **extra_env)
    log = tmp_path / "server.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                                 "--workers", "2", "--no-migrate", *args], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200 and len(_children(proc.pid)) >= 2:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start: " + log.read_text(errors="replace")[-3000:]
            time.sleep(0.1)
        yield url, lrs, proc, _children(proc.pid)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    statuses = [orjson.loads(line).get("status") for line in log.read_bytes().splitlines() if line.startswith(b"{")]
    assert not [s for s in statuses if isinstance(s, int) and s >= 500], "server errors (5xx, also 503 busy) in the log"


@pytest.fixture
def two_workers(settings, lrs, tmp_path):
    with _serve(settings, lrs, tmp_path) as served:
        yield served


def test_two_worker_processes_store_concurrent_writes_once_each_in_order(two_workers):
    url, headers, proc, processes = two_workers
    writers, per_writer, batch = 8, 15, 40
    sent: list[list[str]] = [[] for _ in range(writers)]

    def writer(number: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            for i in range(per_writer):
                if number % 2:  # batches and single statements side by side
                    body = [statement(id=new_id(), verb={"id": f"https://rmtc.example/verbs/w{number}"}) for _ in range(batch)]
                else:
                    body = statement(id=new_id(), verb={"id": f"https://rmtc.example/verbs/w{number}"})
                r = client.post("/xapi/statements", json=body)
                assert r.status_code == 200, r.text
                ids = [s["id"] for s in (body if isinstance(body, list) else [body])]
                assert r.json() == ids
                sent[number].extend(ids)

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(writer, range(writers)))
    # Everything once, in `stored` order: a writer waits for each answer, so its statements are
    # stored after each other whichever process wrote them.
    stored = _stored_ids(url, headers, limit=97)
    expected = [i for ids in sent for i in ids]
    assert len(stored) == len(expected) == writers // 2 * per_writer * (batch + 1)
    assert sorted(stored) == sorted(expected)
    position = {sid: n for n, sid in enumerate(stored)}
    for ids in sent:
        assert [position[i] for i in ids] == sorted(position[i] for i in ids)
    assert _children(proc.pid) == processes  # no worker died or was restarted


def test_new_connections_are_balanced_over_the_workers_and_the_board_is_removed_at_exit(two_workers, tmp_path):
    url, _, proc, _ = two_workers
    [path] = tmp_path.glob("rmtc-accept-*.board")
    board = LoadBoard(path)

    def open_per_worker() -> list[int]:
        return sorted(board.open_connections())

    deadline = time.monotonic() + 10
    while open_per_worker() != [0, 0]:  # the readiness probes' connections are closed
        assert time.monotonic() < deadline, open_per_worker()
        time.sleep(0.02)
    held = []
    for opened in range(1, 7):  # connections that send nothing yet: each stays with its worker
        held.append(socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))))
        deadline = time.monotonic() + 10
        while sum(open_per_worker()) < opened:
            assert time.monotonic() < deadline, open_per_worker()
            time.sleep(0.01)
        assert open_per_worker() == [opened // 2, (opened + 1) // 2]
    for conn in held:
        conn.close()
    board.close()
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(30)
    assert not path.exists()


@pytest.mark.parametrize("balance", ["--balance", "--no-balance"])
def test_a_worker_recycles_itself_after_its_statements_while_the_other_serves(settings, lrs, tmp_path, balance):
    with _serve(settings, lrs, tmp_path, balance, RMTC_WORKER_RECYCLE_STATEMENTS="300") as (url, headers, proc, first):
        # --no-balance: no accept board; the workers accept unbalanced and still drain.
        assert bool(list(tmp_path.glob("rmtc-accept-*.board"))) == (balance == "--balance")
        writers, at_least, after, batch = 4, 30, 5, 20
        sent: list[list[str]] = [[] for _ in range(writers)]

        def writer(number: int) -> None:
            # Writers 0 and 1 keep one connection alive (the recycling worker answers their
            # request in progress with `Connection: close`, and they go on on a new connection);
            # writers 2 and 3 open a new connection per batch (one the recycling worker had
            # accepted gets its request answered). Neither may see a dropped request.
            keep_alive = number < 2
            with httpx.Client(base_url=url, headers=headers if keep_alive else {**headers, "Connection": "close"},
                              timeout=60, limits=httpx.Limits(max_connections=1)) as client:
                batches, left_after = 0, after
                deadline = time.monotonic() + 120
                while batches < at_least or left_after > 0:
                    assert time.monotonic() < deadline, "no worker was replaced"
                    body = [statement(id=new_id()) for _ in range(batch)]
                    r = client.post("/xapi/statements", json=body)
                    assert r.status_code == 200, r.text
                    assert r.json() == [s["id"] for s in body]
                    sent[number].extend(r.json())
                    batches += 1
                    if set(_children(proc.pid)) - set(first):
                        left_after -= 1

        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(writer, range(writers)))
        # ~1,200 statements a worker against a limit of 225-375: one worker recycled while the
        # writers wrote (the other waits 30 s after it), and a new process took its place. It
        # drained first: its connections were answered and closed before it shut down. (Each
        # writer went on for `after` batches once the new process was there.)
        log = (tmp_path / "server.log").read_text(errors="replace")
        assert log.count(" drained: ") == 1, log[-3000:]
        assert log.count("statements (RMTC_WORKER_RECYCLE_STATEMENTS)") == 1
        deadline = time.monotonic() + 30
        while len(_children(proc.pid)) != 2:
            assert time.monotonic() < deadline, f"workers: {[_cmdline(p) for p in _children(proc.pid)]}"
            time.sleep(0.1)
        assert len(set(_children(proc.pid)) & set(first)) == 1  # one at a time: the other one still serves
        recycled_at = float((settings.data_dir / recycling.LOCK_NAME).read_text())
        assert 0 <= time.time() - recycled_at < 120
        stored = _stored_ids(url, headers)
        expected = [i for ids in sent for i in ids]
        assert len(stored) == len(expected) >= writers * at_least * batch
        assert sorted(stored) == sorted(expected)
