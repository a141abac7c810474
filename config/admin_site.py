"""The admin site: Django's, with the operators' first screen on its index.

`OpsAdminConfig` replaces `django.contrib.admin` in `INSTALLED_APPS` (Django's documented way
to swap the default site), so every `@admin.register` lands here unchanged.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class OpsAdminSite(admin.AdminSite):
    site_header = "Consult operations"
    site_title = "Consult admin"
    index_title = "Live state and administration"
    index_template = "admin/operations_index.html"

    def index(self, request, extra_context=None):
        from config.operations import operators_view

        context = {"live_tiles": operators_view(), **(extra_context or {})}
        return super().index(request, context)


class OpsAdminConfig(AdminConfig):
    default_site = "config.admin_site.OpsAdminSite"
