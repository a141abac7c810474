from django.urls import path

from consultants import api

# `<uuid:pk>` only: `consultants/me` and the reviews app's `consultants/<id>/reviews` are not
# shadowed by these routes.
urlpatterns = [
    path("categories", api.CategoryListView.as_view(), name="categories"),
    path("consultants", api.ConsultantListView.as_view(), name="consultants"),
    path("consultants/me", api.MyProfileView.as_view(), name="consultant-me"),
    path(
        "consultants/me/availability",
        api.MyAvailabilityView.as_view(),
        name="consultant-availability",
    ),
    path("consultants/me/documents", api.MyDocumentsView.as_view(), name="consultant-documents"),
    path("consultants/<uuid:pk>", api.ConsultantDetailView.as_view(), name="consultant-detail"),
    path("consultants/<uuid:pk>/verify", api.VerifyView.as_view(), name="consultant-verify"),
]
