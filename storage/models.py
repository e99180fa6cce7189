"""Every table slabot keeps. Times are stored as UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import JSON, Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class AgreementVersion(SQLModel, table=True):
    """One applied version of the SLA agreement. Versions are never rewritten."""

    __tablename__ = "agreement_version"
    __table_args__ = (UniqueConstraint("version"),)

    id: int | None = Field(default=None, primary_key=True)
    version: int
    name: str
    effective: date  # as written in the file
    in_force_from: date = Field(index=True)  # never before the period in which it was applied
    period: str
    terms: dict = Field(sa_column=Column(JSON, nullable=False))
    source_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    applied_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    applied_by: str = ""
