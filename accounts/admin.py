from django.contrib import admin

from accounts.models import User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    """Operators see and edit who a user is; never the password hash or the MFA secret.

    Users sign up through the API (admins with `createsuperuser`); one added here gets an
    unusable password until they reset it.
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

    def save_model(self, request, obj: User, form, change: bool) -> None:
        if not change:
            obj.set_unusable_password()
        obj.email = User.objects.normalize_email(obj.email).lower()
        super().save_model(request, obj, form, change)
