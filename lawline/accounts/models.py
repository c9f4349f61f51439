"""The users table (schema in lawline/db/migrations/versions/0001_users.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, false
from sqlalchemy.orm import Mapped, mapped_column

from lawline.accounts.roles import Role
from lawline.db import Base, UtcDateTime


class User(Base):
    __tablename__ = "users"

    # A lawyer's username is their lawyer id in the queue.
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # A Role value; a plain string so adding a role needs no database change.
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    @property
    def user_role(self) -> Role:
        return Role(self.role)
