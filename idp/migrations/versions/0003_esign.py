"""e-signature login challenges

Revision ID: 0003_esign
Revises: 0002
Create Date: 2026-12-02 05:40:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0003_esign'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('signature_challenges',
    sa.Column('challenge_hash', sa.String(length=64), nullable=False),
    sa.Column('binding_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('challenge_hash')
    )
    with op.batch_alter_table('signature_challenges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signature_challenges_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('signature_challenges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signature_challenges_expires_at'))
    op.drop_table('signature_challenges')
