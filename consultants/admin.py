"""Operator screens: categories, and consultants with the verification flow.

Verification goes through `services.decide_verification` only (the audit row is written there):
the list's "Verify" / "Reject" actions, and the buttons on a consultant's page. Rejecting asks
for a reason on an intermediate page. `is_verified` and `is_online` are read-only in the form
so no other door changes them. Documents are listed inline and downloaded through a staff-only
view: their storage has no public URL.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from rest_framework.exceptions import ValidationError

from accounts.permissions import signed_in_user
from consultants import services
from consultants.models import (
    Category,
    ConsultantDocument,
    ConsultantProfile,
    VerificationDecision,
)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


# Shown and read-only alike (one tuple, so that neither can drift).
_DOCUMENT_INLINE_FIELDS = (
    "kind",
    "original_name",
    "content_type",
    "size",
    "uploaded_at",
    "download",
)


class DocumentInline(admin.TabularInline):
    model = ConsultantDocument
    extra = 0
    can_delete = False
    fields = _DOCUMENT_INLINE_FIELDS
    readonly_fields = _DOCUMENT_INLINE_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="file")
    def download(self, document: ConsultantDocument) -> str:
        url = reverse(
            "admin:consultants_consultantprofile_document",
            args=[document.profile_id, document.pk],
        )
        return format_html('<a href="{}">Download</a>', url)


# Shown and read-only alike (one tuple, so that neither can drift).
_DECISION_INLINE_FIELDS = ("created_at", "decided_by", "is_verified", "reason", "via")


class DecisionInline(admin.TabularInline):
    model = VerificationDecision
    extra = 0
    can_delete = False
    fields = _DECISION_INLINE_FIELDS
    readonly_fields = _DECISION_INLINE_FIELDS
    verbose_name_plural = "verification decisions (audit)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RejectForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=1000, strip=True
    )


@admin.register(ConsultantProfile)
class ConsultantProfileAdmin(admin.ModelAdmin):
    change_form_template = "consultants/admin/change_form.html"
    list_display = [
        "name",
        "email",
        "category",
        "is_verified",
        "is_online",
        "is_busy",
        "rating",
        "rating_count",
        "created_at",
    ]
    list_filter = ["is_verified", "is_online", "is_busy", "category"]
    search_fields = ["user__name", "user__email", "bio", "specializations_key"]
    list_select_related = ["user", "category"]
    raw_id_fields = ["user"]
    readonly_fields = [
        "is_verified",
        "verified_at",
        "is_online",
        "is_busy",
        "rating",
        "rating_count",
        "total_sessions",
        "created_at",
        "updated_at",
    ]
    inlines = [DocumentInline, DecisionInline]
    actions = ["verify_selected", "reject_selected"]
    ordering = ["-created_at"]

    @admin.display(ordering="user__name")
    def name(self, profile: ConsultantProfile) -> str:
        return profile.user.name

    @admin.display(ordering="user__email")
    def email(self, profile: ConsultantProfile) -> str:
        return profile.user.email

    def get_urls(self):
        own = [
            path(
                "<uuid:pk>/verify/",
                self.admin_site.admin_view(self.verify_view),
                name="consultants_consultantprofile_verify",
            ),
            path(
                "<uuid:pk>/reject/",
                self.admin_site.admin_view(self.reject_view),
                name="consultants_consultantprofile_reject",
            ),
            path(
                "<uuid:pk>/documents/<uuid:document_id>/",
                self.admin_site.admin_view(self.document_view),
                name="consultants_consultantprofile_document",
            ),
        ]
        return own + super().get_urls()

    # --- decisions ------------------------------------------------------------------------------

    def _decide(
        self, request: HttpRequest, profiles: Any, *, is_verified: bool, reason: str = ""
    ) -> int:
        done = 0
        for profile in profiles:
            services.decide_verification(
                profile=profile,
                decided_by=signed_in_user(request),
                is_verified=is_verified,
                reason=reason,
                via="admin",
            )
            done += 1
        return done

    @admin.action(description="Verify the selected consultants", permissions=["change"])
    def verify_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = self._decide(request, queryset, is_verified=True)
        self.message_user(request, f"Verified {done} consultant(s).", messages.SUCCESS)

    @admin.action(description="Reject (unverify) the selected consultants", permissions=["change"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = RejectForm(request.POST if "reason" in request.POST else None)
        if form.is_bound and form.is_valid():
            done = self._decide(
                request, queryset, is_verified=False, reason=form.cleaned_data["reason"]
            )
            self.message_user(request, f"Rejected {done} consultant(s).", messages.SUCCESS)
            return None
        return self._reject_page(request, form, list(queryset), action=True)

    def _reject_page(
        self, request: HttpRequest, form: RejectForm, profiles: list, *, action: bool
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Reject consultants",
            "form": form,
            "profiles": profiles,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "consultants/admin/reject.html", context)

    def _profile_or_404(self, request: HttpRequest, pk: Any) -> ConsultantProfile:
        if not self.has_change_permission(request):
            raise PermissionDenied
        return get_object_or_404(ConsultantProfile.objects.select_related("user"), pk=pk)

    def _change_url(self, profile: ConsultantProfile) -> str:
        return reverse("admin:consultants_consultantprofile_change", args=[profile.pk])

    def verify_view(self, request: HttpRequest, pk: Any) -> HttpResponse:
        profile = self._profile_or_404(request, pk)
        if request.method != "POST":
            return HttpResponseRedirect(self._change_url(profile))
        self._decide(request, [profile], is_verified=True)
        self.message_user(request, f"{profile.user.name} is verified.", messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(profile))

    def reject_view(self, request: HttpRequest, pk: Any) -> HttpResponse:
        profile = self._profile_or_404(request, pk)
        form = RejectForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                self._decide(
                    request, [profile], is_verified=False, reason=form.cleaned_data["reason"]
                )
            except ValidationError as error:
                form.add_error("reason", str(error.detail))
            else:
                self.message_user(request, f"{profile.user.name} is rejected.", messages.SUCCESS)
                return HttpResponseRedirect(self._change_url(profile))
        return self._reject_page(request, form, [profile], action=False)

    def document_view(self, request: HttpRequest, pk: Any, document_id: Any) -> FileResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        document = get_object_or_404(ConsultantDocument, pk=document_id, profile_id=pk)
        try:
            handle = document.file.open("rb")
        except FileNotFoundError:
            raise Http404("The file is missing from private storage.") from None
        suffix = (document.file.name or "").rsplit(".", 1)[-1]
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=f"{document.kind}-{document.pk}.{suffix}",
            content_type=document.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


@admin.register(VerificationDecision)
class VerificationDecisionAdmin(admin.ModelAdmin):
    """The audit trail: read-only, decisions are made on the consultants' screens."""

    list_display = ["created_at", "profile", "is_verified", "decided_by", "via", "reason"]
    list_filter = ["is_verified", "via"]
    search_fields = ["profile__user__name", "profile__user__email", "reason"]
    list_select_related = ["profile__user", "decided_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
