"""registrations: SCORM 2004 shared data buckets (adl.data)

Revision ID: d0a7ad5a0008
Revises: c0ffee060006
Create Date: 2026-11-23 12:45:00

"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'd0a7ad5a0008'
down_revision = 'c0ffee060006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shared_data', sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                                      nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_column('shared_data')
