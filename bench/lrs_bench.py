"""Benchmark of the xAPI Learning Record Store (/xapi): write throughput, query latency,
exactly-once paging and server memory while the store grows.

It generates realistic statements (seeded, deterministic): thousands of learners (mbox and
account agents), ADL verbs, courses / modules / questions as activities with definitions
(names in several languages, interaction definitions), results (scores, success, completion,
durations, responses) and context (registrations, parent / grouping activities, instructors,
extensions). Every request goes to loopback with httpx: queries and single statements on
keep-alive connections; batches (10 statements or more) each on a new connection by default
(`--batch-connections`): a keep-alive connection stays with the worker process that accepted
it, and the few connections of a run, opened at once, can all land on one worker (a worker
accepts every pending connection when it wakes up), which then does all the work while the
other idles (measured with 2 workers: 2,654/s against 4,200/s for the same code). A new
connection per batch goes to a worker that is free to accept it, as a load balancer in front of
the workers would spread the batches.

For each store size (default 100k; `--sizes 100000,1000000` for both) it:

1. loads statements in batches of 1000 up to the size (POST throughput at batch 1000, timed
   per phase);
2. measures GET latency p50/p95/p99 (warmed-up connection, `--samples` requests per type,
   parameters drawn at random from the generated data) for agent, verb, activity,
   activity + related_activities, registration, since/until, agent + verb, statementId and
   following `more` links;
3. checks that paging through `more` returns every expected statement exactly once while a
   writer thread posts new statements into the same filter (registration, agent, verb;
   descending and ascending);
4. measures POST throughput for batches of 1 (sequential, `--concurrency` and `--many` in
   flight), 10, 100 and 1000 (`--repeat` runs, median reported) on the store of that size,
   which these writes grow further (by 30,500 statements per repeat, 5,700 with `--quick`;
   the tables give the store size during the runs);
5. pages through the whole store (format=ids) and checks that every accepted statement comes
   back exactly once, and nothing else does.

The server's RSS (VmRSS of the process and its children, and VmHWM) is sampled throughout, and
its CPU time is read around each POST throughput run (CPU per request: what the server spends,
which other work on the machine changes far less than the rates).

By default the script starts its own server (`rmtc serve`, SQLite in a fresh data directory,
on 127.0.0.1) and always stops it. `--url` with `--key/--secret` uses a running server instead
(e.g. one on PostgreSQL; add `--server-pid` to sample its memory). Only loopback addresses are
accepted.

    .venv/bin/python bench/lrs_bench.py --quick                  # smoke test, 10k statements
    .venv/bin/python bench/lrs_bench.py --repeat 3 --markdown    # 100k
    .venv/bin/python bench/lrs_bench.py --sizes 100000,1000000 --markdown --json-out /tmp/lrs.json
"""

from __future__ import annotations

import argparse
import array
import base64
import datetime as dt
import ipaddress
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import httpx
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
console = Console(stderr=True)
XAPI_VERSION = {"X-Experience-API-Version": "1.0.3"}
ADMIN_EMAIL = "bench@rmtc.example"
ADMIN_PASSWORD = "bench-admin-password-1"
HOME = "https://rmtc.example"

# ADL verbs with a weight (how common they are in e-learning traffic) and the kind of object.
VERBS: list[tuple[str, str, int, str]] = [
    ("http://adlnet.gov/expapi/verbs/experienced", "experienced", 26, "module"),
    ("http://adlnet.gov/expapi/verbs/progressed", "progressed", 14, "module"),
    ("http://adlnet.gov/expapi/verbs/answered", "answered", 20, "question"),
    ("http://adlnet.gov/expapi/verbs/attempted", "attempted", 7, "module"),
    ("http://adlnet.gov/expapi/verbs/launched", "launched", 5, "module"),
    ("http://adlnet.gov/expapi/verbs/initialized", "initialized", 5, "module"),
    ("http://adlnet.gov/expapi/verbs/terminated", "terminated", 4, "module"),
    ("http://adlnet.gov/expapi/verbs/completed", "completed", 6, "module"),
    ("http://adlnet.gov/expapi/verbs/passed", "passed", 4, "module"),
    ("http://adlnet.gov/expapi/verbs/failed", "failed", 2, "module"),
    ("http://adlnet.gov/expapi/verbs/interacted", "interacted", 3, "module"),
    ("http://adlnet.gov/expapi/verbs/suspended", "suspended", 2, "module"),
    ("http://adlnet.gov/expapi/verbs/resumed", "resumed", 2, "module"),
]
VERB_WEIGHTS = [w for _, _, w, _ in VERBS]
COUNTRIES = [("rs", "Srbija"), ("mk", "Северна Македонија"), ("al", "Shqipëria"), ("ba", "BiH"), ("me", "Crna Gora"),
             ("xk", "Kosovo")]
FIRST = ["Ana", "Marko", "Jelena", "Nikola", "Elira", "Besnik", "Мила", "Стефан", "Amra", "Emir", "Ivana", "Luka",
         "Arta", "Dritan", "Milica", "Aleksandar", "Sara", "Petar", "Ajla", "Dejan"]
LAST = ["Petrović", "Jovanović", "Hoxha", "Krasniqi", "Стојановски", "Николовска", "Hadžić", "Kovačević", "Marković",
        "Berisha", "Đorđević", "Popović", "Begović", "Ilić"]
TOPICS = ["Asylum procedures", "Border management", "Trafficking in human beings", "Return and readmission",
          "Migrant smuggling", "Unaccompanied minors", "Document fraud", "Data protection", "Interviewing techniques",
          "Intercultural communication"]


WRITER_BATCHES = 40  # batches of 10 the writer posts at most during one paging check


def uuid_from(rng: random.Random) -> str:
    return str(uuid.UUID(bytes=rng.randbytes(16), version=4))


# Data -------------------------------------------------------------------------------------


@dataclass
class Learner:
    agent: dict[str, Any]
    enrolments: list[tuple[int, str]]  # (course index, registration)


class Dataset:
    """Learners, courses, activities and registrations, plus a deterministic statement stream.

    Every statement made is remembered compactly (its id and the indices of its learner, verb,
    object, course and registration) so that the expected result of a filter can be computed."""

    def __init__(self, seed: int, n_learners: int, n_courses: int = 40, modules: int = 8, questions: int = 10,
                 active_sessions: int = 200):
        rng = random.Random(seed)
        # Learners work in sessions (a module of one enrolment, 8-40 statements); statements of
        # the open sessions interleave. `active_sessions` of 0 draws every statement's learner
        # at random instead (no locality at all: the worst case for the database's indexes).
        self.active_sessions = active_sessions
        self.sessions: list[list[int]] = []  # [learner, enrolment, module, statements left]
        self.rng = random.Random(seed + 1)
        self.courses = [f"{HOME}/xapi/activities/course/c{c:03d}" for c in range(n_courses)]
        self.programme = f"{HOME}/xapi/activities/programme/western-balkans-2026"
        self.modules = [[f"{course}/module/{m}" for m in range(modules)] for course in self.courses]
        self.questions = [[[f"{mod}/question/{q}" for q in range(questions)] for mod in mods] for mods in self.modules]
        self.course_topics = [rng.choice(TOPICS) + f" {c + 1}" for c in range(n_courses)]
        # Activity index space: courses, then modules, then questions.
        self.activity_ids: list[str] = list(self.courses)
        self.module_index = []
        for mods in self.modules:
            self.module_index.append(len(self.activity_ids))
            self.activity_ids.extend(mods)
        self.question_index = []
        for c in range(n_courses):
            per_module = []
            for m in range(modules):
                per_module.append(len(self.activity_ids))
                self.activity_ids.extend(self.questions[c][m])
            self.question_index.append(per_module)
        self.instructors = [
            {"objectType": "Agent", "name": f"Instructor {i}", "mbox": f"mailto:instructor{i}@rmtc.example"} for i in range(20)
        ]
        self.learners: list[Learner] = []
        self.registrations: list[str] = []
        self.registration_owner: list[int] = []
        for i in range(n_learners):
            country, _ = rng.choice(COUNTRIES)
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            if i % 3 == 2:
                agent = {"objectType": "Agent", "name": name, "account": {"homePage": f"https://idp.{country}.example", "name": f"u{i:06d}"}}
            else:
                agent = {"objectType": "Agent", "name": name, "mbox": f"mailto:learner{i:06d}@mup.gov.{country}.example"}
            enrolments = []
            for c in rng.sample(range(n_courses), rng.randint(2, 4)):
                registration = uuid_from(rng)
                enrolments.append((c, len(self.registrations)))
                self.registrations.append(registration)
                self.registration_owner.append(i)
            self.learners.append(Learner(agent, enrolments))
        # Made statements.
        self.ids = bytearray()
        self.learner_of = array.array("i")
        self.verb_of = array.array("b")
        self.object_of = array.array("i")
        self.course_of = array.array("i")
        self.registration_of = array.array("i")
        self.t0 = dt.datetime(2026, 1, 5, 7, 30, tzinfo=dt.UTC)

    def __len__(self) -> int:
        return len(self.learner_of)

    def id_at(self, index: int) -> str:
        return str(uuid.UUID(bytes=bytes(self.ids[index * 16:index * 16 + 16])))

    def definition(self, index: int) -> dict[str, Any]:
        activity = self.activity_ids[index]
        if "/question/" in activity:
            q = activity.rsplit("/", 1)[1]
            return {
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                "name": {"en": f"Question {q}", "sr-Latn-RS": f"Pitanje {q}", "mk": f"Прашање {q}"},
                "description": {"en": "Which document establishes the right to international protection?"},
                "interactionType": "choice",
                "correctResponsesPattern": ["b"],
                "choices": [{"id": k, "description": {"en": f"Option {k}"}} for k in "abcd"],
            }
        if "/module/" in activity:
            m = activity.rsplit("/", 1)[1]
            return {"type": "http://adlnet.gov/expapi/activities/module",
                    "name": {"en": f"Module {m}", "sr-Latn-RS": f"Modul {m}"},
                    "description": {"en": "A module of the course, with reading, video and a knowledge check."}}
        c = self.courses.index(activity)
        return {"type": "http://adlnet.gov/expapi/activities/course",
                "name": {"en": self.course_topics[c], "sr-Latn-RS": self.course_topics[c]},
                "description": {"en": f"RMTC course: {self.course_topics[c]}"}}

    def make(self, *, learner: int | None = None, enrolment: int | None = None, verb: int | None = None) -> dict[str, Any]:
        """The next statement of the stream (some fields may be forced)."""
        rng = self.rng
        n = len(self)
        session = None
        if learner is None and enrolment is None and self.active_sessions:
            if len(self.sessions) < self.active_sessions:
                self.sessions.append([0, 0, 0, 0])
            session = self.sessions[rng.randrange(len(self.sessions))]
            if session[3] <= 0:
                li = rng.randrange(len(self.learners))
                e = rng.randrange(len(self.learners[li].enrolments))
                course = self.learners[li].enrolments[e][0]
                session[:] = [li, e, rng.randrange(len(self.modules[course])), rng.randint(8, 40)]
            session[3] -= 1
            learner, enrolment = session[0], session[1]
        li = rng.randrange(len(self.learners)) if learner is None else learner
        person = self.learners[li]
        course, reg = person.enrolments[rng.randrange(len(person.enrolments)) if enrolment is None else enrolment]
        vi = rng.choices(range(len(VERBS)), VERB_WEIGHTS)[0] if verb is None else verb
        verb_id, display, _, kind = VERBS[vi]
        m = session[2] if session is not None else rng.randrange(len(self.modules[course]))
        if kind == "question":
            q = rng.randrange(len(self.questions[course][m]))
            obj_index = self.question_index[course][m] + q
            parent = self.module_index[course] + m
        elif rng.random() < 0.15:
            obj_index, parent = course, None
        else:
            obj_index, parent = self.module_index[course] + m, course
        statement_id = uuid_from(rng)
        s: dict[str, Any] = {
            "id": statement_id,
            "actor": person.agent,
            "verb": {"id": verb_id, "display": {"en-US": display}},
            "object": {"objectType": "Activity", "id": self.activity_ids[obj_index], "definition": self.definition(obj_index)},
            "timestamp": (self.t0 + dt.timedelta(seconds=n * 7 + rng.random())).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        context_activities: dict[str, Any] = {"grouping": [{"id": self.programme, "objectType": "Activity"}]}
        if parent is not None:
            context_activities["parent"] = [{"id": self.activity_ids[parent], "objectType": "Activity"}]
        if parent != course:
            context_activities["grouping"].append({"id": self.courses[course], "objectType": "Activity"})
        context: dict[str, Any] = {
            "registration": self.registrations[reg],
            "contextActivities": context_activities,
            "platform": "RMTC e-learning",
            "language": rng.choice(["en", "sr-Latn-RS", "mk", "sq"]),
            "extensions": {f"{HOME}/xapi/extensions/session": uuid_from(rng)},
        }
        if rng.random() < 0.05:
            context["instructor"] = rng.choice(self.instructors)
        s["context"] = context
        if display == "answered":
            correct = rng.random() < 0.7
            s["result"] = {"success": correct, "response": "b" if correct else rng.choice("acd"),
                           "duration": f"PT{rng.randint(3, 90)}S"}
        elif display in ("passed", "failed", "completed"):
            raw = rng.randint(55, 100) if display != "failed" else rng.randint(10, 54)
            s["result"] = {"score": {"scaled": raw / 100, "raw": raw, "min": 0, "max": 100},
                           "success": display != "failed", "completion": True, "duration": f"PT{rng.randint(5, 120)}M{rng.randint(0, 59)}S"}
        elif display == "progressed":
            s["result"] = {"extensions": {f"{HOME}/xapi/extensions/progress": rng.randint(1, 99)}}
        elif display == "terminated":
            s["result"] = {"duration": f"PT{rng.randint(1, 60)}M"}
        self.ids += uuid.UUID(statement_id).bytes
        self.learner_of.append(li)
        self.verb_of.append(vi)
        self.object_of.append(obj_index)
        self.course_of.append(course)
        self.registration_of.append(reg)
        return s

    # Expected results of filters (indices into the made statements).

    def matching(self, *, learner: int | None = None, verb: int | None = None, registration: int | None = None,
                 course_related: int | None = None) -> set[str]:
        out = set()
        for i in range(len(self)):
            if learner is not None and self.learner_of[i] != learner:
                continue
            if verb is not None and self.verb_of[i] != verb:
                continue
            if registration is not None and self.registration_of[i] != registration:
                continue
            if course_related is not None and self.course_of[i] != course_related:
                continue
            out.add(self.id_at(i))
        return out


# Server -----------------------------------------------------------------------------------


def is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _rmtc_executable() -> str:
    candidate = Path(sys.executable).parent / "rmtc"
    return str(candidate) if candidate.exists() else (shutil.which("rmtc") or "rmtc")


class ManagedServer:
    """`rmtc serve` on loopback with its own data directory; always stopped."""

    def __init__(self, data_dir: Path, port: int, workers: int, database_url: str | None, src: Path | None = None):
        self.data_dir = data_dir
        # `rmtc` of this checkout, or of another source tree (e.g. an older commit exported with
        # `git archive`) run with this virtualenv, for before/after comparisons.
        self.rmtc = ([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(src)!r}); from app.cli import main; main()"]
                     if src else [_rmtc_executable()])
        self.cwd = str(src) if src else None
        self.port = port
        self.workers = workers
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "RMTC_DATA_DIR": str(data_dir), "RMTC_PUBLIC_BASE_URL": self.url,
                    "RMTC_PACKAGE_WORKER_ENABLED": "false"}
        if database_url:
            self.env["RMTC_DATABASE_URL"] = database_url
        self.proc: subprocess.Popen | None = None
        self.log = None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        steps = [["users", "create-admin", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD]]
        if "RMTC_DATABASE_URL" in self.env:  # SQLite is migrated by the commands themselves
            steps.insert(0, ["db", "upgrade"])
        for step in steps:
            done = subprocess.run([*self.rmtc, *step], env=self.env, capture_output=True, text=True, cwd=self.cwd)
            if done.returncode != 0:
                raise RuntimeError(f"rmtc {' '.join(step[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")
        self.log = open(self.data_dir / "server.log", "ab")
        cmd = [*self.rmtc, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        if "RMTC_DATABASE_URL" in self.env:
            cmd.append("--migrate")
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
                                     cwd=self.cwd)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}; see {self.data_dir / 'server.log'}")
            try:
                if httpx.get(self.url + "/xapi/about", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not start within 60 s")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.log:
            self.log.close()


def lrs_credentials(url: str) -> tuple[str, str]:
    with httpx.Client(base_url=url, timeout=30) as client:
        r = client.post("/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        r.raise_for_status()
        token = r.json()["access_token"]
        r = client.post("/api/v1/lrs/clients", json={"name": "bench", "scopes": ["all"]},
                        headers={"Authorization": f"Bearer {token}"})
        r.raise_for_status()
        return r.json()["key"], r.json()["secret"]


def _tree_pids(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
    return pids


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads, also those that have ended)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _status_kib(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemoryMonitor:
    """Samples the server's RSS (process tree) once a second in a thread."""

    def __init__(self, pid: int | None, store_size):
        self.pid = pid
        self.store_size = store_size
        self.samples: list[tuple[float, int, int]] = []  # (time, statements, rss KiB)
        self.load: list[float] = []  # 1-minute load average of the machine (other work shows here)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_kib(self) -> int:
        return sum(_status_kib(p, "VmRSS") for p in _tree_pids(self.pid)) if self.pid else 0

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's process tree (0 without a pid)."""
        return sum(_cpu_seconds(p) for p in _tree_pids(self.pid)) if self.pid else 0.0

    def hwm_kib(self) -> int:
        return max((_status_kib(p, "VmHWM") for p in _tree_pids(self.pid)), default=0) if self.pid else 0

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.samples.append((time.time(), self.store_size(), self.rss_kib()))
            self.load.append(os.getloadavg()[0])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()


# Client -----------------------------------------------------------------------------------


class Lrs:
    """httpx clients (one per thread, keep-alive) for the LRS."""

    def __init__(self, url: str, key: str, secret: str, *, batch_connections: str = "new"):
        self.url = url.rstrip("/")
        self.close_after_batch = batch_connections == "new"
        token = base64.b64encode(f"{key}:{secret}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", **XAPI_VERSION}
        self._local = threading.local()

    @property
    def client(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.url, headers=self.headers, timeout=300,
                                  limits=httpx.Limits(max_keepalive_connections=4, max_connections=4))
            self._local.client = client
        return client

    def post(self, body: bytes, *, batch: bool = False) -> list[str]:
        headers = {"Content-Type": "application/json"}
        if batch and self.close_after_batch:
            headers["Connection"] = "close"
        r = self.client.post("/xapi/statements", content=body, headers=headers)
        if r.status_code != 200:
            raise RuntimeError(f"POST /xapi/statements: {r.status_code} {r.text[:500]}")
        return r.json()

    def get(self, path_or_url: str, params: dict[str, str] | None = None) -> tuple[float, httpx.Response]:
        started = time.perf_counter()
        r = self.client.get(path_or_url, params=params)
        r.read()
        elapsed = time.perf_counter() - started
        if r.status_code != 200:
            raise RuntimeError(f"GET {path_or_url} {params}: {r.status_code} {r.text[:500]}")
        return elapsed, r

    def more_url(self, more: str) -> str:
        return urljoin(self.url + "/", more)


@dataclass
class Batch:
    body: bytes
    ids: list[str]


@dataclass
class PostResult:
    statements: int
    requests: int
    seconds: float
    windows: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.statements / self.seconds if self.seconds else 0.0


def make_batches(data: Dataset, total: int, size: int) -> Iterator[Batch]:
    made = 0
    while made < total:
        n = min(size, total - made)
        items = [data.make() for _ in range(n)]
        made += n
        body = orjson.dumps(items[0] if size == 1 else items)
        yield Batch(body, [s["id"] for s in items])


def post_all(lrs: Lrs, batches: Iterator[Batch], concurrency: int, progress: Progress | None = None, task=None,
             accepted: list[int] | None = None) -> PostResult:
    """POST batches with `concurrency` requests in flight (threads that each take the next batch
    as soon as their previous one is answered: the load generator's own CPU per request stays
    low, it shares the machine with the server); checks the returned ids."""
    windows: list[tuple[dt.datetime, dt.datetime]] = []
    count = requests = 0
    lock = threading.Lock()
    failed: list[BaseException] = []

    def sender() -> None:
        nonlocal count, requests
        while not failed:
            with lock:
                batch = next(batches, None)
            if batch is None:
                return
            try:
                before = dt.datetime.now(dt.UTC)
                ids = lrs.post(batch.body, batch=len(batch.ids) >= 10)
                after = dt.datetime.now(dt.UTC)
                if ids != batch.ids:
                    raise RuntimeError("the LRS returned other ids than the ones sent")
            except Exception as exc:
                failed.append(exc)
                return
            with lock:
                count += len(ids)
                requests += 1
                windows.append((before, after))
                if accepted is not None:
                    accepted[0] += len(ids)
            if progress is not None:
                progress.advance(task, len(ids))

    started = time.perf_counter()
    threads = [threading.Thread(target=sender, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]
    return PostResult(count, requests, time.perf_counter() - started, windows)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# Phases -----------------------------------------------------------------------------------


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)


class Bench:
    def __init__(self, args: argparse.Namespace, lrs: Lrs, data: Dataset, memory: MemoryMonitor):
        self.args = args
        self.lrs = lrs
        self.data = data
        self.memory = memory
        self.accepted = [0]  # statements the LRS accepted
        self.windows: list[tuple[dt.datetime, dt.datetime]] = []  # (sent, answered) of load batches
        self.results: dict[str, Any] = {"throughput": [], "load": [], "queries": [], "paging": [], "scan": [], "memory": [],
                                        "floor": []}
        self.rng = random.Random(args.seed + 7)

    def memory_point(self, label: str) -> None:
        rss = self.memory.rss_kib()
        point = {"point": label, "statements": self.accepted[0], "rss_mib": round(rss / 1024, 1),
                 "hwm_mib": round(self.memory.hwm_kib() / 1024, 1)}
        self.results["memory"].append(point)
        console.print(f"[dim]memory at {label}: RSS {point['rss_mib']} MiB, peak {point['hwm_mib']} MiB[/dim]")

    # Writes

    def load(self, target: int) -> None:
        todo = target - self.accepted[0]
        if todo <= 0:
            return
        start_size = self.accepted[0]
        with _progress() as progress:
            task = progress.add_task(f"load to {target:,} (batches of 1000)", total=todo, rate="")
            result = None
            chunk = max(50_000, todo // 10)
            done = 0
            phases = []
            while done < todo:
                n = min(chunk, todo - done)
                r = post_all(self.lrs, make_batches(self.data, n, 1000), self.args.concurrency, progress, task, self.accepted)
                self.windows.extend(r.windows)
                phases.append({"from": start_size + done, "to": start_size + done + n, "seconds": round(r.seconds, 2),
                               "rate": round(r.rate)})
                progress.update(task, rate=f"{r.rate:,.0f}/s")
                done += n
                result = r if result is None else PostResult(result.statements + r.statements, result.requests + r.requests,
                                                              result.seconds + r.seconds)
                self.results["memory"].append({"point": f"load {self.accepted[0]:,}", "statements": self.accepted[0],
                                               "rss_mib": round(self.memory.rss_kib() / 1024, 1),
                                               "hwm_mib": round(self.memory.hwm_kib() / 1024, 1), "series": True})
        self.results["load"].append({"from": start_size, "to": target, "seconds": round(result.seconds, 1),
                                     "rate": round(result.rate), "phases": phases})
        console.print(f"loaded {start_size:,} -> {target:,}: {result.rate:,.0f} statements/s ({result.seconds:.1f} s)")

    def throughput(self, size_label: str, plan: list[tuple[int, int, int]]) -> None:
        """plan: (batch size, concurrency, statements) per measurement, repeated."""
        runs: dict[tuple[int, int], list[dict[str, Any]]] = {}
        with _progress() as progress:
            for rep in range(self.args.repeat):
                for size, conc, total in plan:
                    batches = list(make_batches(self.data, total, size))  # generated before timing
                    task = progress.add_task(f"run {rep + 1}: batch {size:>4} x{conc}", total=total, rate="")
                    store_before = self.accepted[0]
                    cpu_before = self.memory.cpu_seconds()
                    r = post_all(self.lrs, iter(batches), conc, progress, task, self.accepted)
                    cpu = self.memory.cpu_seconds() - cpu_before
                    progress.update(task, rate=f"{r.rate:,.0f}/s")
                    runs.setdefault((size, conc), []).append(
                        {"rate": r.rate, "latency_ms": r.seconds / r.requests * conc * 1000, "store": store_before,
                         "store_after": self.accepted[0],
                         "cpu_ms": cpu / r.requests * 1000})
        for (size, conc), items in runs.items():
            rates = [i["rate"] for i in items]
            self.results["throughput"].append({
                "size": size_label, "batch": size, "concurrency": conc, "runs": [round(x) for x in rates],
                "median": round(statistics.median(rates)), "store_from": items[0]["store"],
                "store_to": max(i["store_after"] for i in items),
                "request_ms": round(statistics.median(i["latency_ms"] for i in items), 2),
                # The server's CPU time (all cores) per request: what the server spends, whatever
                # else runs on the machine; 0 for a server without a known pid.
                "server_cpu_ms": round(statistics.median(i["cpu_ms"] for i in items), 2),
            })

    def floor(self, size_label: str) -> None:
        """Requests/s of GET /xapi/about (no authentication, no database): what the HTTP stack and
        middleware alone allow on this machine, the ceiling of any single-statement rate."""
        for conc, total in ((1, 300), (self.args.concurrency, 600)):
            def one(_: int) -> None:
                r = self.lrs.client.get("/xapi/about")
                if r.status_code != 200:
                    raise RuntimeError(f"GET /xapi/about: {r.status_code}")

            with ThreadPoolExecutor(max_workers=conc) as pool:
                list(pool.map(one, range(20)))  # warm the connections
                started = time.perf_counter()
                list(pool.map(one, range(total)))
                rate = total / (time.perf_counter() - started)
            self.results["floor"].append({"size": size_label, "concurrency": conc, "requests_per_s": round(rate)})

    # Reads

    def _agent_json(self, learner: int) -> str:
        agent = self.data.learners[learner].agent
        return orjson.dumps({k: v for k, v in agent.items() if k != "name"}).decode()

    def _random_learner(self) -> int:
        return self.data.learner_of[self.rng.randrange(len(self.data))]

    def query_params(self, kind: str) -> dict[str, str]:
        rng, data = self.rng, self.data
        limit = str(self.args.query_limit)
        if kind == "agent":
            return {"agent": self._agent_json(self._random_learner()), "limit": limit}
        if kind == "verb":
            return {"verb": VERBS[rng.randrange(len(VERBS))][0], "limit": limit}
        if kind == "activity":
            return {"activity": data.activity_ids[data.object_of[rng.randrange(len(data))]], "limit": limit}
        if kind == "activity+related":
            return {"activity": data.courses[rng.randrange(len(data.courses))], "related_activities": "true", "limit": limit}
        if kind == "registration":
            return {"registration": data.registrations[data.registration_of[rng.randrange(len(data))]], "limit": limit}
        if kind == "since/until":
            i = rng.randrange(len(self.windows))
            j = min(len(self.windows) - 1, i + rng.randint(0, 5))
            lo, hi = sorted([self.windows[i][0], self.windows[j][1]])
            fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
            return {"since": lo.strftime(fmt), "until": hi.strftime(fmt), "limit": limit}
        if kind == "agent+verb":
            i = rng.randrange(len(data))
            return {"agent": self._agent_json(data.learner_of[i]), "verb": VERBS[data.verb_of[i]][0], "limit": limit}
        if kind == "statementId":
            return {"statementId": data.id_at(rng.randrange(len(data)))}
        if kind == "none":
            return {"limit": limit}
        raise ValueError(kind)

    QUERY_KINDS = ["agent", "verb", "activity", "activity+related", "registration", "since/until", "agent+verb",
                   "statementId", "none"]

    def queries(self, size_label: str) -> None:
        samples = self.args.samples
        with _progress() as progress:
            for kind in [*self.QUERY_KINDS, "more"]:
                task = progress.add_task(f"GET {kind}", total=samples, rate="")
                latencies: list[float] = []
                counts: list[int] = []
                for _ in range(self.args.warmup):  # warm the connection, the caches and the code paths
                    if kind != "more":
                        self.lrs.get("/xapi/statements", self.query_params(kind))
                while len(latencies) < samples:
                    if kind == "more":
                        # Follow `more` from the first page of a large result (verb or related activity).
                        params = self.query_params(self.rng.choice(["verb", "activity+related", "agent"]))
                        _, r = self.lrs.get("/xapi/statements", params)
                        more = r.json()["more"]
                        for _ in range(5):
                            if not more or len(latencies) >= samples:
                                break
                            elapsed, r = self.lrs.get(self.lrs.more_url(more))
                            body = r.json()
                            latencies.append(elapsed)
                            counts.append(len(body["statements"]))
                            progress.advance(task)
                            more = body["more"]
                        continue
                    elapsed, r = self.lrs.get("/xapi/statements", self.query_params(kind))
                    latencies.append(elapsed)
                    body = r.json()
                    counts.append(len(body["statements"]) if "statements" in body else 1)
                    progress.advance(task)
                p50, p95 = percentile(latencies, 50) * 1000, percentile(latencies, 95) * 1000
                progress.update(task, rate=f"p50 {p50:.1f} ms  p95 {p95:.1f} ms")
                self.results["queries"].append({
                    "size": size_label, "query": kind, "samples": len(latencies), "p50_ms": round(p50, 2),
                    "p95_ms": round(p95, 2), "p99_ms": round(percentile(latencies, 99) * 1000, 2),
                    "max_ms": round(max(latencies) * 1000, 2), "mean_results": round(statistics.mean(counts), 1),
                })

    # Exactly once

    def page(self, params: dict[str, str]) -> tuple[list[str], int, list[float]]:
        ids: list[str] = []
        pages = 0
        latencies = []
        elapsed, r = self.lrs.get("/xapi/statements", params)
        while True:
            body = orjson.loads(r.content)
            pages += 1
            latencies.append(elapsed)
            ids.extend(s["id"] for s in body["statements"])
            if not body["more"]:
                return ids, pages, latencies
            elapsed, r = self.lrs.get(self.lrs.more_url(body["more"]))

    def paging_with_writes(self, size_label: str) -> None:
        data, rng = self.data, self.rng
        i = rng.randrange(len(data))
        learner, reg = data.learner_of[i], data.registration_of[i]
        enrolment = next(k for k, (_, r) in enumerate(data.learners[learner].enrolments) if r == reg)
        # The least common verb keeps the number of pages reasonable at 1M statements.
        rare_verb = min(range(len(VERBS)), key=lambda v: VERBS[v][2])
        cases = [
            ("registration", {"registration": data.registrations[reg], "limit": "5"}, {"registration": reg},
             {"learner": learner, "enrolment": enrolment}, False),
            ("registration asc", {"registration": data.registrations[reg], "limit": "5", "ascending": "true"},
             {"registration": reg}, {"learner": learner, "enrolment": enrolment}, True),
            ("agent", {"agent": self._agent_json(learner), "limit": "10"}, {"learner": learner}, {"learner": learner}, False),
            ("agent asc", {"agent": self._agent_json(learner), "limit": "10", "ascending": "true"}, {"learner": learner},
             {"learner": learner}, True),
            (f"verb {VERBS[rare_verb][1]}", {"verb": VERBS[rare_verb][0], "limit": "500", "format": "ids"},
             {"verb": rare_verb}, {"verb": rare_verb}, False),
        ]
        for name, params, expect_filter, writer_force, ascending in cases:
            expected = data.matching(**expect_filter)
            written: list[str] = []
            stop = threading.Event()
            lock = threading.Lock()
            errors: list[BaseException] = []

            def writer() -> None:
                # Batches of 10: half match the filter, half are other traffic. Bounded, so that
                # ascending paging (which also returns what is written meanwhile) catches up.
                try:
                    for _ in range(WRITER_BATCHES):
                        if stop.is_set():
                            break
                        with lock:
                            items = [data.make(**writer_force) if k % 2 == 0 else data.make() for k in range(10)]
                        body = orjson.dumps(items)
                        ids = self.lrs.post(body)
                        self.accepted[0] += len(ids)
                        written.extend(s["id"] for k, s in enumerate(items) if k % 2 == 0)
                        time.sleep(0.005)
                except BaseException as exc:  # reported below
                    errors.append(exc)

            thread = threading.Thread(target=writer, daemon=True)
            thread.start()
            time.sleep(0.05)
            try:
                ids, pages, latencies = self.page(params)
            finally:
                stop.set()
                thread.join()
            if errors:
                raise errors[0]
            seen = set(ids)
            duplicates = len(ids) - len(seen)
            missing = len(expected - seen)
            # What may come back besides: statements written meanwhile that match the filter, the
            # writer's other traffic included (random statements can match too, e.g. the verb).
            unexpected = len(seen - data.matching(**expect_filter))
            new_seen = len(seen & set(written))
            ok = duplicates == 0 and missing == 0 and unexpected == 0
            self.results["paging"].append({
                "size": size_label, "filter": name, "limit": int(params["limit"]), "pages": pages,
                "expected": len(expected), "returned": len(ids), "duplicates": duplicates, "missing": missing,
                "unexpected": unexpected, "written_during": len(written), "new_returned": new_seen,
                "page_p50_ms": round(percentile(latencies, 50) * 1000, 2), "ok": ok,
            })
            style = "green" if ok else "red"
            console.print(f"[{style}]paging {name}: {pages} pages, {len(ids)} ids, expected {len(expected)}, "
                          f"duplicates {duplicates}, missing {missing}, unexpected {unexpected}, "
                          f"{len(written)} written meanwhile ({new_seen} of them returned)[/{style}]")

    def full_scan(self, size_label: str) -> None:
        """Every accepted statement, exactly once, nothing else."""
        accepted = {bytes(self.data.ids[k:k + 16]) for k in range(0, len(self.data.ids), 16)}
        seen: set[bytes] = set()
        duplicates = unexpected = pages = 0
        started = time.perf_counter()
        with _progress() as progress:
            task = progress.add_task("full scan (format=ids, limit=1000)", total=len(accepted), rate="")
            elapsed, r = self.lrs.get("/xapi/statements", {"format": "ids", "limit": "1000"})
            while True:
                body = orjson.loads(r.content)
                pages += 1
                for s in body["statements"]:
                    b = uuid.UUID(s["id"]).bytes
                    if b in seen:
                        duplicates += 1
                    else:
                        seen.add(b)
                        if b not in accepted:
                            unexpected += 1
                progress.advance(task, len(body["statements"]))
                if not body["more"]:
                    break
                elapsed, r = self.lrs.get(self.lrs.more_url(body["more"]))
        missing = len(accepted - seen)
        seconds = time.perf_counter() - started
        ok = duplicates == 0 and missing == 0 and unexpected == 0
        self.results["scan"].append({"size": size_label, "accepted": len(accepted), "returned": len(seen) + duplicates,
                                     "pages": pages, "duplicates": duplicates, "missing": missing,
                                     "unexpected": unexpected, "seconds": round(seconds, 1), "ok": ok})
        style = "green" if ok else "red"
        console.print(f"[{style}]full scan: {pages} pages, {len(seen) + duplicates:,} ids of {len(accepted):,} accepted, "
                      f"duplicates {duplicates}, missing {missing}, unexpected {unexpected} ({seconds:.0f} s)[/{style}]")


# Report -----------------------------------------------------------------------------------


def machine_info(args: argparse.Namespace, server_info: str) -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = 0.0
    try:
        mem_gib = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    except (OSError, IndexError, ValueError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_gib, 1), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "kernel": platform.release(), "server": server_info,
            "concurrency": args.concurrency, "batch_connections": args.batch_connections, "seed": args.seed,
            "active_sessions": args.active_sessions, "date": dt.date.today().isoformat()}


def _store_range(start: int, end: int | None) -> str:
    """The store size over a measurement's runs (the first run's start to the last run's end;
    results written before `store_to` was recorded have the start only)."""
    return f"{start:,} -> {end:,}" if end is not None else f"from {start:,}"


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    out = [f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; Python {m['python']}, SQLite {m['sqlite']}; "
           f"server: {m['server']}; load generator on the same machine; {m['date']}, seed {m['seed']}, "
           f"{m.get('active_sessions', '?')} interleaved learner sessions; batches on "
           f"{'new' if m.get('batch_connections', 'keep-alive') == 'new' else 'keep-alive'} connections; 1-minute load average during the run: "
           f"median {m.get('load_average', {}).get('median', '?')}, max {m.get('load_average', {}).get('max', '?')}.", ""]
    out += ["### POST throughput (statements/s)", "",
            "| store | batch | concurrent requests | statements/s (median) | runs | ms per request | server CPU ms per request | "
            "statements stored during the runs |",
            "|---|---|---|---|---|---|---|---|"]
    for load in results["load"]:
        out.append(f"| {load['from']:,} -> {load['to']:,} (load) | 1000 | {m['concurrency']} | {load['rate']:,} | "
                   f"{', '.join(format(p['rate'], ',') for p in load['phases'])} (per phase) | | | |")
    for t in results["throughput"]:
        out.append(f"| {t['size']} | {t['batch']} | {t['concurrency']} | {t['median']:,} | "
                   f"{', '.join(format(x, ',') for x in t['runs'])} | {t['request_ms']} | {t.get('server_cpu_ms', '')} | "
                   f"{_store_range(t['store_from'], t.get('store_to'))} |")
    for f in results.get("floor", []):
        out.append(f"| {f['size']} | (GET /xapi/about: no auth, no database) | {f['concurrency']} | "
                   f"{f['requests_per_s']:,} requests/s | | | | |")
    out += ["", "### GET /xapi/statements latency (ms, one warmed-up keep-alive connection)", "",
            "| store | query | samples | p50 | p95 | p99 | max | statements returned (mean) |", "|---|---|---|---|---|---|---|---|"]
    for q in results["queries"]:
        out.append(f"| {q['size']} | {q['query']} | {q['samples']} | {q['p50_ms']} | {q['p95_ms']} | {q['p99_ms']} | "
                   f"{q['max_ms']} | {q['mean_results']} |")
    out += ["", "### Exactly once", "",
            "| store | check | pages | expected | returned | duplicates | missing | unexpected | written meanwhile | result |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for p in results["paging"]:
        out.append(f"| {p['size']} | `more` paging, {p['filter']} (limit {p['limit']}), writer running | {p['pages']} | "
                   f"{p['expected']} | {p['returned']} | {p['duplicates']} | {p['missing']} | {p['unexpected']} | "
                   f"{p['written_during']} ({p['new_returned']} returned) | {'ok' if p['ok'] else 'FAILED'} |")
    for s in results["scan"]:
        out.append(f"| {s['size']} | full scan of the store (format=ids, limit 1000) | {s['pages']} | {s['accepted']:,} | "
                   f"{s['returned']:,} | {s['duplicates']} | {s['missing']} | {s['unexpected']} | - | "
                   f"{'ok' if s['ok'] else 'FAILED'} |")
    out += ["", "### Server memory (RSS of the server process tree)", "", "| point | statements | RSS MiB | peak (VmHWM) MiB |",
            "|---|---|---|---|"]
    for p in results["memory"]:
        out.append(f"| {p['point']} | {p['statements']:,} | {p['rss_mib']} | {p['hwm_mib']} |")
    return "\n".join(out)


def combine(paths: list[Path]) -> str:
    """One markdown summary of several runs' --json-out files: medians across runs (each run's
    own figure listed), exactly-once results and memory of every run."""
    runs = [json.loads(p.read_text()) for p in paths]
    out = [f"{len(runs)} runs: " + "; ".join(
        f"{r['machine']['date']} {r['machine']['server']}, load average median "
        f"{r['machine'].get('load_average', {}).get('median', '?')} max {r['machine'].get('load_average', {}).get('max', '?')}"
        for r in runs), ""]
    out += ["| store | batch | concurrent requests | statements/s, median of runs | each run (its median of --repeat) | "
            "server CPU ms per request, median of runs | statements stored during the runs |",
            "|---|---|---|---|---|---|---|"]
    keys = list(dict.fromkeys((t["size"], t["batch"], t["concurrency"]) for r in runs for t in r["throughput"]))
    for size, batch, conc in keys:
        same = [t for r in runs for t in r["throughput"] if (t["size"], t["batch"], t["concurrency"]) == (size, batch, conc)]
        vals = [t["median"] for t in same]
        cpu = [t["server_cpu_ms"] for t in same if "server_cpu_ms" in t]
        ends = sorted(t["store_to"] for t in same if "store_to" in t)
        out.append(f"| {size} | {batch} | {conc} | {round(statistics.median(vals)):,} | {', '.join(format(v, ',') for v in vals)} | "
                   f"{format(statistics.median(cpu), '.2f') if cpu else ''} | "
                   f"{_store_range(min(t['store_from'] for t in same), ends[-1] if len(ends) == len(same) else None)} |")
    for load in [x for r in runs for x in r["load"]]:
        out.append(f"| {load['from']:,} -> {load['to']:,} (load) | 1000 | | {load['rate']:,} | | | |")
    for conc in sorted({f["concurrency"] for r in runs for f in r.get("floor", [])}):
        vals = [f["requests_per_s"] for r in runs for f in r.get("floor", []) if f["concurrency"] == conc]
        out.append(f"| (GET /xapi/about, no auth, no database) | - | {conc} | {round(statistics.median(vals)):,} requests/s | "
                   f"{', '.join(format(v, ',') for v in vals)} | | |")
    out += ["", "| store | query | p50 ms (median of runs) | p95 ms (median of runs) | p95 of each run | p99 ms (median) |",
            "|---|---|---|---|---|---|"]
    keys = list(dict.fromkeys((q["size"], q["query"]) for r in runs for q in r["queries"]))
    for size, name in keys:
        qs = [q for r in runs for q in r["queries"] if (q["size"], q["query"]) == (size, name)]
        out.append(f"| {size} | {name} | {statistics.median(q['p50_ms'] for q in qs):.1f} | "
                   f"{statistics.median(q['p95_ms'] for q in qs):.1f} | {', '.join(format(q['p95_ms'], '.1f') for q in qs)} | "
                   f"{statistics.median(q['p99_ms'] for q in qs):.1f} |")
    checks = [c for r in runs for c in r["paging"] + r["scan"]]
    out += ["", f"Exactly-once checks: {sum(c['ok'] for c in checks)} of {len(checks)} passed "
                f"(duplicates {sum(c['duplicates'] for c in checks)}, missing {sum(c['missing'] for c in checks)}, "
                f"unexpected {sum(c['unexpected'] for c in checks)}).", ""]
    out += ["| run | server RSS (MiB) at each point |", "|---|---|"]
    for i, r in enumerate(runs, 1):
        out.append(f"| {i} | " + ", ".join(f"{p['point']}: {p['rss_mib']}" for p in r["memory"]) + " |")
    return "\n".join(out)


def human_size(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="Examples:\n" + __doc__.rsplit("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default="100000", help="store sizes to measure at, comma separated (default: 100000)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 10k statements, fewer samples, one run")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each POST throughput measurement (median reported)")
    parser.add_argument("--samples", type=int, default=200, help="requests per query type (default: 200)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests per query type first (default: 20)")
    parser.add_argument("--query-limit", type=int, default=100, help="limit of the measured queries (default: 100)")
    parser.add_argument("--concurrency", type=int, default=4, help="POST requests in flight (default: 4)")
    parser.add_argument("--many", type=int, default=16,
                        help="single statements are also posted with this many requests in flight: many devices "
                             "sending at once (default: 16)")
    parser.add_argument("--batch-connections", choices=["new", "keep-alive"], default="new",
                        help="batches of 10 or more: each on a new connection (default; spread over the workers), "
                             "or on keep-alive connections (which stay with one worker)")
    parser.add_argument("--learners", type=int, default=0, help="learners (default: size / 40, at least 2,500)")
    parser.add_argument("--active-sessions", type=int, default=200,
                        help="learner sessions open at once, whose statements interleave (default: 200; "
                             "0: every statement from a random learner, no locality)")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--no-scan", action="store_true", help="skip the full-store exactly-once scan")
    parser.add_argument("--url", help="use this running server (loopback only) instead of starting one")
    parser.add_argument("--key", help="LRS client key (with --url)")
    parser.add_argument("--secret", help="LRS client secret (with --url)")
    parser.add_argument("--server-pid", type=int, help="pid of the --url server, to sample its memory")
    parser.add_argument("--port", type=int, default=8790, help="port of the started server (default: 8790)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes of the started server (default: 1)")
    parser.add_argument("--database-url", help="RMTC_DATABASE_URL of the started server (default: SQLite in --data-dir)")
    parser.add_argument("--server-src", type=Path,
                        help="run the started server from this source tree instead (e.g. `git archive OLD | tar -x -C DIR`)")
    parser.add_argument("--data-dir", type=Path, help="data directory of the started server (default: a new temporary one)")
    parser.add_argument("--keep-data", action="store_true", help="keep the data directory afterwards")
    parser.add_argument("--markdown", action="store_true", help="print the results as markdown tables on stdout")
    parser.add_argument("--json-out", type=Path, help="write the results as JSON to this file")
    parser.add_argument("--combine", type=Path, nargs="+", metavar="JSON",
                        help="print one markdown summary (medians across runs) of --json-out files, and exit")
    args = parser.parse_args(argv)
    # Stop cleanly (and stop the started server) on SIGTERM, and on SIGINT even when started in
    # the background by a shell that ignores it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.combine:
        print(combine(args.combine))
        return 0

    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    if args.quick:
        sizes, args.samples, args.warmup = [10_000], min(args.samples, 60), min(args.warmup, 5)
    extras = ([(1, 1, 100), (1, args.concurrency, 300), (1, args.many, 300), (10, args.concurrency, 1000),
               (100, args.concurrency, 2000), (1000, args.concurrency, 2000)] if args.quick else
              [(1, 1, 500), (1, args.concurrency, 2000), (1, args.many, 3000), (10, args.concurrency, 5000),
               (100, args.concurrency, 10_000), (1000, args.concurrency, 10_000)])
    extras = list(dict.fromkeys(extras))  # --many equal to --concurrency: measured once

    server: ManagedServer | None = None
    made_dir = False
    if args.url:
        if not is_loopback(args.url):
            parser.error("--url must be a loopback address (127.0.0.0/8, localhost, ::1)")
        if not (args.key and args.secret):
            parser.error("--url needs --key and --secret")
        url, key, secret, pid = args.url, args.key, args.secret, args.server_pid
        server_info = f"existing server at {args.url}"
    else:
        data_dir = args.data_dir
        if data_dir is None:
            data_dir = Path(tempfile.mkdtemp(prefix="lrsbench-"))
            made_dir = True
        elif data_dir.exists() and any(data_dir.iterdir()):
            parser.error(f"{data_dir} is not empty; the benchmark needs a fresh data directory")
        server = ManagedServer(data_dir, args.port, args.workers, args.database_url, args.server_src)
        db = "PostgreSQL" if args.database_url and args.database_url.startswith("postgres") else "SQLite (WAL)"
        server_info = f"rmtc serve, {args.workers} worker(s), {db}" + (f", source {args.server_src}" if args.server_src else "")
        console.print(f"starting the server on {server.url} (data in {data_dir})")
    memory = None
    try:
        if server:
            server.start()
            url, pid = server.url, server.pid
            key, secret = lrs_credentials(url)
        lrs = Lrs(url, key, secret, batch_connections=args.batch_connections)
        n_learners = args.learners or max(2500, sizes[-1] // 40)
        data = Dataset(args.seed, n_learners, active_sessions=args.active_sessions)
        console.print(f"{n_learners:,} learners, {len(data.registrations):,} registrations, "
                      f"{len(data.activity_ids):,} activities, {len(VERBS)} verbs")
        bench = Bench(args, lrs, data, None)  # type: ignore[arg-type]
        memory = MemoryMonitor(pid, lambda: bench.accepted[0])
        bench.memory = memory
        memory.start()
        bench.results["machine"] = machine_info(args, server_info)
        bench.memory_point("start")
        for size in sizes:
            # Queries at the size, then the writes on a store of at least the size (it grows by
            # the throughput runs' statements), then the scan of everything.
            label = human_size(size)
            bench.load(size)
            bench.memory_point(label)
            bench.queries(label)
            bench.paging_with_writes(label)
            bench.throughput(label, extras)
            bench.floor(label)
            if not args.no_scan:
                bench.full_scan(label)
            bench.memory_point(f"{label} after the writes")
        if memory.load:
            bench.results["machine"]["load_average"] = {"median": round(statistics.median(memory.load), 2),
                                                        "max": round(max(memory.load), 2)}
        bench.results["memory_series"] = [{"t": round(t, 1), "statements": n, "rss_mib": round(k / 1024, 1)}
                                          for t, n, k in memory.samples]
        report = markdown(bench.results)
        if args.json_out:
            args.json_out.write_text(json.dumps(bench.results, indent=1, default=str))
        if args.markdown:
            print(report)
        else:
            console.print(report)
        failed = [p for p in bench.results["paging"] + bench.results["scan"] if not p["ok"]]
        return 1 if failed else 0
    finally:
        if memory:
            memory.stop()
        if server:
            server.stop()
            console.print("server stopped")
            if made_dir and not args.keep_data:
                shutil.rmtree(server.data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
