"""The admin site: Django's, with the operators' first screen on its index.

`OpsAdminConfig` replaces `django.contrib.admin` in `INSTALLED_APPS` (Django's documented way
to swap the default site), so every `@admin.register` lands here unchanged.
"""

from collections.abc import Iterable

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that services alone write (the books, consultations, bookings, payouts): never
    added, edited or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ActionsOnlyAdmin(ReadOnlyAdmin):
    """Read-only records that a superuser acts on through the admin's actions (cancel, refund,
    freeze, pay out): Django shows actions only with the change permission, so a superuser has
    it, and every field stays read-only. `shown_too` names extra read-only fields (a timeline)."""

    shown_too: tuple[str, ...] = ()

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + list(self.shown_too)


def status_rows(events: Iterable) -> list[tuple]:
    """(when, what, details) rows of status-change events (`at`, `from_status`, `to_status`,
    `reason`, `actor`), for `timeline_table`."""
    return [
        (
            event.at,
            f"{event.from_status or '-'} → {event.to_status}",
            f"{event.reason} (by {event.actor or 'the system'})",
        )
        for event in events
    ]


def timeline_table(rows: Iterable[tuple], after: str = "") -> SafeString:
    """(when, what, details) rows, oldest first, as the admin's timeline table; `after` is
    text shown below it."""
    body = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (f"{when:%Y-%m-%d %H:%M:%S}", what, details)
            for when, what, details in sorted(rows, key=lambda row: row[0])
        ),
    )
    return format_html(
        "<table><thead><tr><th>When (UTC)</th><th>What</th><th>Details</th></tr></thead>"
        "<tbody>{}</tbody></table>{}",
        body,
        format_html("<p>{}</p>", after) if after else "",
    )
