"""xapi statement index: integer terms and stored times

The filter values of the index rows (agent IFIs, verb and activity IRIs, registrations: tens of
bytes each, written ~9 times per statement) move to a table of terms, each (kind, value) once
with an integer id; an index row becomes (term_id, stored, statement_id) with `stored` in
microseconds since the epoch (UTC). Rows are a third of their size, so a commit writes about
half the pages: SQLite inserts + commit of a batch of 1000 statements 0.121 -> 0.058 ms per
statement, of 100 statements 0.16 -> 0.09 ms (measured outside the service on 50k statements).
Terms created at about the same time have neighbouring ids, so the rows of the learners and
registrations active together share index pages.

Revision ID: f7e2a1c00010
Revises: e1a5c0de0009
Create Date: 2026-11-23 18:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'f7e2a1c00010'
down_revision = 'e1a5c0de0009'
branch_labels = None
depends_on = None

# `stored` (a UTC datetime: text 'YYYY-MM-DD HH:MM:SS.ffffff' on SQLite) in microseconds since the
# epoch, exactly (no floating point).
_MICROS = {
    'sqlite': "CAST(strftime('%s', substr(i.stored, 1, 19)) AS INTEGER) * 1000000 + CAST(substr(i.stored, 21, 6) AS INTEGER)",
    'postgresql': "CAST(EXTRACT(EPOCH FROM date_trunc('second', i.stored)) AS BIGINT) * 1000000"
                  " + CAST(EXTRACT(MICROSECONDS FROM i.stored) AS BIGINT) % 1000000",
}
_DATETIME = {
    'sqlite': "strftime('%Y-%m-%d %H:%M:%S', i.stored / 1000000, 'unixepoch') || '.' || printf('%06d', i.stored % 1000000)",
    'postgresql': "to_timestamp(i.stored / 1000000) + (i.stored % 1000000) * interval '1 microsecond'",
}


def _rename_old(dialect: str) -> None:
    op.rename_table('xapi_statement_index', 'xapi_statement_index_old')
    if dialect == 'postgresql':  # the primary key's index keeps its name otherwise
        op.execute('ALTER INDEX pk_xapi_statement_index RENAME TO pk_xapi_statement_index_old')


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        'xapi_statement_terms',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('value', sa.String(length=2048), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_xapi_statement_terms')),
        sa.UniqueConstraint('value', 'kind', name=op.f('uq_xapi_statement_terms_value_kind')),
    )
    _rename_old(dialect)
    op.create_table(
        'xapi_statement_index',
        sa.Column('term_id', sa.BigInteger(), nullable=False),
        sa.Column('stored', sa.BigInteger(), nullable=False),
        sa.Column('statement_id', sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint('term_id', 'stored', 'statement_id', name=op.f('pk_xapi_statement_index')),
        sqlite_with_rowid=False,
    )
    op.execute('INSERT INTO xapi_statement_terms (kind, value) '
               'SELECT DISTINCT kind, value FROM xapi_statement_index_old ORDER BY kind, value')
    op.execute('INSERT INTO xapi_statement_index (term_id, stored, statement_id) '
               f'SELECT t.id, {_MICROS[dialect]}, i.statement_id FROM xapi_statement_index_old i '
               'JOIN xapi_statement_terms t ON t.kind = i.kind AND t.value = i.value')
    op.drop_table('xapi_statement_index_old')


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _rename_old(dialect)
    op.create_table(
        'xapi_statement_index',
        sa.Column('stored', sa.DateTime(timezone=True), nullable=False),
        sa.Column('statement_id', sa.Uuid(), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('value', sa.String(length=2048), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'value', 'stored', 'statement_id', name=op.f('pk_xapi_statement_index')),
        sqlite_with_rowid=False,
    )
    op.execute('INSERT INTO xapi_statement_index (stored, statement_id, kind, value) '
               f'SELECT {_DATETIME[dialect]}, i.statement_id, t.kind, t.value FROM xapi_statement_index_old i '
               'JOIN xapi_statement_terms t ON t.id = i.term_id')
    op.drop_table('xapi_statement_index_old')
    op.drop_table('xapi_statement_terms')
