"""Job claims for several runner replicas: lease columns on jobs, and a claims history.

A runner claims a job by writing a fresh fencing token (``claim_token``), its id and a lease
expiry; it renews the lease while it runs the job, and every write it makes about the job
names the token, so a runner whose lease was taken over can no longer change the job.
``job_claims`` keeps one row per claim (who, when, how it ended), the evidence that each job
finished exactly once.

Revision ID: 0003_job_claims
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_job_claims"
down_revision = "0002"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:  # batch: SQLite cannot ALTER much in place
        batch.add_column(sa.Column("claim_token", sa.String(32), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", _TS, nullable=True))
    op.create_table(
        "job_claims",
        sa.Column("token", sa.String(32), primary_key=True),
        sa.Column("job_id", sa.String(32), nullable=False, index=True),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("runner_id", sa.String(128), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("claimed_at", _TS, nullable=False),
        sa.Column("ended_at", _TS, nullable=True),
        # running | succeeded | failed | cancelled | expired | released | fenced
        sa.Column("outcome", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_claims")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("lease_expires_at")
        batch.drop_column("claimed_by")
        batch.drop_column("claim_token")
