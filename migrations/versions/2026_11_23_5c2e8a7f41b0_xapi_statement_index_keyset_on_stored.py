"""xapi statement index: keyed by stored, with a (kind, value, stored, statement_id) keyset index

Filtered statement queries read the index rows of their most selective filter in (stored,
statement_id) order and stop after one page, instead of walking every statement by `stored`
and probing each one for the filter. The primary key becomes (stored, statement_id, kind, value):
new rows are appended instead of being scattered over a key that starts with a random
statement id; on SQLite the table becomes WITHOUT ROWID (the primary key is the table). The old
(kind, value, statement_id) index is replaced by the keyset index.

Revision ID: 5c2e8a7f41b0
Revises: a55e55ed0007
Create Date: 2026-11-23 10:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '5c2e8a7f41b0'
down_revision = 'a55e55ed0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('xapi_statement_index', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stored', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE xapi_statement_index SET stored = "
        "(SELECT s.stored FROM xapi_statements s WHERE s.id = xapi_statement_index.statement_id)"
    )
    sqlite = op.get_bind().dialect.name == 'sqlite'
    with op.batch_alter_table('xapi_statement_index', schema=None, recreate='always' if sqlite else 'auto',
                              table_kwargs={'sqlite_with_rowid': False} if sqlite else {}) as batch_op:
        batch_op.alter_column('stored', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.drop_index('ix_xapi_statement_index_lookup')
        batch_op.drop_constraint('pk_xapi_statement_index', type_='primary')
        batch_op.create_primary_key('pk_xapi_statement_index', ['stored', 'statement_id', 'kind', 'value'])
        batch_op.create_index('ix_xapi_statement_index_keyset', ['kind', 'value', 'stored', 'statement_id'], unique=False)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    with op.batch_alter_table('xapi_statement_index', schema=None, recreate='always' if sqlite else 'auto',
                              table_kwargs={'sqlite_with_rowid': True} if sqlite else {}) as batch_op:
        batch_op.drop_index('ix_xapi_statement_index_keyset')
        batch_op.drop_constraint('pk_xapi_statement_index', type_='primary')
        batch_op.create_primary_key('pk_xapi_statement_index', ['statement_id', 'kind', 'value'])
        batch_op.create_index('ix_xapi_statement_index_lookup', ['kind', 'value', 'statement_id'], unique=False)
        batch_op.drop_column('stored')
