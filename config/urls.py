from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from chat.api import asyncapi_document
from config.health import healthz
from config.observability import metrics_view

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # The WebSocket described (AsyncAPI 3): chat/asyncapi.py.
    path("api/asyncapi.json", asyncapi_document, name="asyncapi"),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("wallets.urls")),
    path("api/v1/", include("consultants.urls")),
    path("api/v1/", include("consultations.urls")),
    path("api/v1/", include("chat.urls")),
    path("api/v1/", include("reviews.urls")),
    path("api/v1/", include("earnings.urls")),
    path("api/v1/", include("bookings.urls")),
    # The language switcher posts here (Django's set_language: a cookie, then back to `next`).
    path("i18n/setlang/", set_language, name="set_language"),
    # The web pages (UI.md), namespace `web`.
    path("", include("web.urls")),
]

handler400 = "config.errors.json_400"
handler403 = "config.errors.json_403"
handler404 = "config.errors.json_404"
handler500 = "config.errors.json_500"
