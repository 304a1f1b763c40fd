"""xapi statement index: related rows only for agents and activities that are not direct

A statement's actor (and an Agent/Group object) had two index rows, `agent` and `agent+`, and
an Activity object two, `activity` and `activity+`: the `+` kinds held every related value,
direct ones included, so that a related query read one range. Now the `+` kinds hold only the
values that are related without being direct in the statement, and a related query reads both
ranges (two pages merged). ~9 -> ~7 index rows per statement; SQLite inserts + commit in
batches of 100: 0.120 -> 0.100 ms per statement, WAL per statement 27.4 -> 22.2 KiB (measured
outside the service on 50k statements).

Revision ID: a9c3d1e00011
Revises: f7e2a1c00010
Create Date: 2026-11-23 19:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = 'a9c3d1e00011'
down_revision = 'f7e2a1c00010'
branch_labels = None
depends_on = None

# The direct kind of a related one, and back.
_DIRECT = "CASE r.kind WHEN 'agent+' THEN 'agent' ELSE 'activity' END"


def upgrade() -> None:
    op.execute(
        'DELETE FROM xapi_statement_index WHERE EXISTS ('
        ' SELECT 1 FROM xapi_statement_terms r'
        f' JOIN xapi_statement_terms d ON d.value = r.value AND d.kind = {_DIRECT}'
        ' JOIN xapi_statement_index i ON i.term_id = d.id AND i.stored = xapi_statement_index.stored'
        '  AND i.statement_id = xapi_statement_index.statement_id'
        ' WHERE r.id = xapi_statement_index.term_id AND r.kind IN (\'agent+\', \'activity+\'))'
    )


def downgrade() -> None:
    op.execute(
        "INSERT INTO xapi_statement_terms (kind, value) "
        "SELECT DISTINCT d.kind || '+', d.value FROM xapi_statement_terms d "
        "JOIN xapi_statement_index i ON i.term_id = d.id "
        "WHERE d.kind IN ('agent', 'activity') AND NOT EXISTS ("
        " SELECT 1 FROM xapi_statement_terms r WHERE r.value = d.value AND r.kind = d.kind || '+')"
    )
    op.execute(
        "INSERT INTO xapi_statement_index (term_id, stored, statement_id) "
        "SELECT r.id, i.stored, i.statement_id FROM xapi_statement_index i "
        "JOIN xapi_statement_terms d ON d.id = i.term_id "
        "JOIN xapi_statement_terms r ON r.value = d.value AND r.kind = d.kind || '+' "
        "WHERE d.kind IN ('agent', 'activity')"
    )
