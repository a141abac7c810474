"""Role permissions for DRF views of every app: `permission_classes = [IsClient]`."""

from rest_framework.permissions import BasePermission


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
