"""Consultants listens to accounts: a consultant who registers gets a profile at once."""

from typing import Any

from accounts.models import User
from consultants import services


def on_user_registered(sender: Any, *, user: User, category: str | None = None, **kwargs) -> None:
    """Sent inside the registration transaction: an unknown category raises a 400 `invalid`
    (`fields.category`) and the registration rolls back with it."""
    if user.is_consultant:
        services.create_profile(user=user, category_slug=category or None)


def on_user_saved(sender: Any, *, instance: User, update_fields: Any = None, **kwargs) -> None:
    """Keeps the profile's `search_text` in step with the consultant's name."""
    if update_fields is not None and "name" not in update_fields:
        return
    if instance.is_consultant:
        services.refresh_search_text(user=instance)
