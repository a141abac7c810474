from django.urls import path

from reviews import api

urlpatterns = [
    path("reviews", api.ReviewCreateView.as_view(), name="reviews"),
    path(
        "consultants/<uuid:consultant_id>/reviews",
        api.ConsultantReviewListView.as_view(),
        name="consultant-reviews",
    ),
]
