"""Consultants listens to accounts: a consultant who registers gets a profile at once."""

from typing import Any

from accounts.models import User
from consultants import services


def on_user_registered(sender: Any, *, user: User, category: str | None = None, **kwargs) -> None:
    """Sent inside the registration transaction: an unknown category raises a 400 `invalid`
    (`fields.category`) and the registration rolls back with it."""
    if user.is_consultant:
        services.create_profile(user=user, category_slug=category or None)
