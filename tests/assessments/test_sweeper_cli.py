"""`rmtc assessments close-expired`, run as a real process against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from app.assessments.models import QuizAttempt
from app.dbmigrate import ROOT
from tests.assessments import helpers as h
from tests.assessments.conftest import answers_for


def test_close_expired_command_grades_abandoned_attempts(client, factory, world, db, database_url, tmp_path):
    slots = [{"question_id": world["questions"][0]["id"]}, {"question_id": world["questions"][2]["id"]}]
    quiz = h.quiz(client, world["ih"], world["course"]["module_ids"][0], slots=slots, time_limit_seconds=60)
    _, lh = h.learner(client, factory, world["course"]["id"])
    attempt = h.start(client, lh, quiz["id"])
    client.patch(f"/api/v1/attempts/{attempt['id']}/answers", json={"answers": answers_for(world, attempt)}, headers=lh)
    h.move_attempt(db, attempt["id"], seconds=61)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RMTC_")}
    env.update(RMTC_DATA_DIR=str(tmp_path / "cli"), RMTC_DATABASE_URL=database_url, RMTC_PUBLIC_BASE_URL="http://testserver")
    result = subprocess.run([sys.executable, "-m", "app.cli", "assessments", "close-expired"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "closed 1 expired attempt(s)" in result.stdout
    row = db.get(QuizAttempt, uuid.UUID(attempt["id"]))
    db.refresh(row)
    assert (row.status.value, row.finish_reason.value, row.score_scaled) == ("graded", "time_limit", 1.0)
