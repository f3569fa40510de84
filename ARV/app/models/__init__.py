"""Every model, imported so `Base.metadata` is complete for Alembic and the tests."""

from app.models.base import Base
from app.models.user import User

__all__ = ["Base", "User"]
