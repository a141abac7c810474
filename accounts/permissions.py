"""Role permissions for DRF views of every app: `permission_classes = [IsClient]`."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rest_framework.permissions import BasePermission

if TYPE_CHECKING:
    from django.http import HttpRequest
    from rest_framework.request import Request

    from accounts.models import User


def signed_in_user(request: HttpRequest | Request) -> User:
    """The request's user, in a view that anonymous requests never reach (a permission class
    such as `IsAuthenticated` or `IsClient`, or `login_required`, has already turned them away).

    Django and DRF type `request.user` as `User | AnonymousUser`; this says which one it is
    here for the type checker and checks nothing at run time: the permission already did."""
    return cast("User", request.user)


class _HasRole(BasePermission):
    role_property = ""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, self.role_property, False))


class IsClient(_HasRole):
    message = "Only clients may do this."
    role_property = "is_client"


class IsConsultant(_HasRole):
    message = "Only consultants may do this."
    role_property = "is_consultant"


class IsAdmin(_HasRole):
    message = "Only admins may do this."
    role_property = "is_admin"
