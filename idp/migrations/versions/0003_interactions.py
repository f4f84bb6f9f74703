"""interactions: authorization requests waiting for the person, in the database instead of the cookie

Revision ID: 0003_interactions
Revises: 0003_esign
Create Date: 2026-12-02 05:20:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0003_interactions'
down_revision = '0003_esign'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('interactions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('browser_hash', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('redirect_uri', sa.Text(), nullable=False),
    sa.Column('scope', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=1024), nullable=True),
    sa.Column('nonce', sa.String(length=512), nullable=True),
    sa.Column('code_challenge', sa.String(length=128), nullable=False),
    sa.Column('prompt', sa.JSON(), nullable=False),
    sa.Column('max_age', sa.BigInteger(), nullable=True),
    sa.Column('acr_values', sa.String(length=500), nullable=True),
    sa.Column('ui_locales', sa.String(length=100), nullable=True),
    sa.Column('login_hint', sa.String(length=64), nullable=True),
    sa.Column('hint_sub', sa.String(length=10), nullable=True),
    sa.Column('acr_needed', sa.String(length=20), nullable=False),
    sa.Column('session_sid', sa.String(length=32), nullable=True),
    sa.Column('step', sa.String(length=40), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.client_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interactions_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interactions_expires_at'))
    op.drop_table('interactions')
