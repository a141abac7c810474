from django.contrib import admin
from django.core.exceptions import PermissionDenied

from accounts.forms import StaffLoginForm
from accounts.models import Role, User, normalize_email

# The admin's sign-in goes through the same lockout and MFA as the API (accounts.forms).
admin.site.login_form = StaffLoginForm
admin.site.login_template = "admin/accounts/login.html"

# What only a superuser may give or change: the admin itself (is_staff), everything
# (is_superuser), and the API's operator powers (role admin: refunds, verification).
PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "role")


def _privileged(user: User) -> bool:
    return user.is_staff or user.is_superuser or user.role == Role.ADMIN


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    """Operators see and edit who a user is; never the password hash or the MFA secret.

    Users sign up through the API (admins with `createsuperuser`); one added here gets an
    unusable password until they reset it. Staff who are not superusers cannot grant
    `is_staff`, `is_superuser` or the admin role, nor change or delete an account that has
    any of them. Deactivating a user (or a new password) ends all their sessions
    (`User.save`).
    """

    list_display = ["email", "name", "role", "is_active", "date_joined"]
    list_filter = ["role", "is_active"]
    search_fields = ["email", "name", "phone"]
    ordering = ["-date_joined"]
    fields = [
        "email",
        "name",
        "phone",
        "role",
        "is_active",
        "is_staff",
        "is_superuser",
        "mfa_enabled",
        "date_joined",
        "last_login",
    ]
    readonly_fields = ["mfa_enabled", "date_joined", "last_login"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += PRIVILEGE_FIELDS
        return fields

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and _privileged(obj) and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and _privileged(obj) and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            # Bulk deletion would reach staff accounts past has_delete_permission(obj).
            actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj: User, form, change: bool) -> None:
        # The form cannot carry read-only fields; this is the last line should that change.
        if not request.user.is_superuser and _privileged(obj):
            raise PermissionDenied("Only a superuser may grant staff, superuser or admin.")
        if not change:
            obj.set_unusable_password()
        obj.email = normalize_email(obj.email)
        super().save_model(request, obj, form, change)
