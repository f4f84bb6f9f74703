"""e-signature login challenges; organisations a person represents, and the one a login was made for

Revision ID: 0003_esign
Revises: 0003_otp
Create Date: 2026-12-02 05:40:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0003_esign'
down_revision = '0003_otp'
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

    op.create_table('person_organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('tin', sa.String(length=9), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=200), nullable=True),
    sa.Column('is_basic', sa.Boolean(), nullable=False),
    sa.Column('certificate_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('person_id', 'tin', name='uq_person_organisation')
    )
    with op.batch_alter_table('person_organisations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_organisations_person_id'), ['person_id'], unique=False)
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('org_tin', sa.String(length=9), nullable=True))
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('org_tin', sa.String(length=9), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_column('org_tin')
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_column('org_tin')
    with op.batch_alter_table('person_organisations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_organisations_person_id'))
    op.drop_table('person_organisations')
    with op.batch_alter_table('signature_challenges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signature_challenges_expires_at'))
    op.drop_table('signature_challenges')
