"""Issue #12: shared rate-limit buckets, per-tenant blob references, signed audit records.

Revision ID: 0004_api12
Revises: 0003_job_claims
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_api12"
down_revision = "0003_job_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # token buckets shared by every API replica (riskgrid.service.ratelimit.SqlRateLimiter)
    op.create_table(
        "rate_buckets",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
    )
    # which tenant uploaded which blob: a tenant may reference only its own uploads, so the
    # "which hashes do you lack" answer reveals nothing about other tenants' files
    op.create_table(
        "tenant_blobs",
        sa.Column("tenant", sa.String(63), primary_key=True),
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Ed25519 signature of the record's hash by the server's audit key (not in the database)
    op.add_column("audit_log", sa.Column("sig", sa.String(128), nullable=True))


def downgrade() -> None:
    op.drop_column("audit_log", "sig")
    op.drop_table("tenant_blobs")
    op.drop_table("rate_buckets")
