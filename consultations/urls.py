from django.urls import path

from consultations import api, api_refunds

urlpatterns = [
    path("consultations", api.ConsultationListView.as_view(), name="consultations"),
    path("consult/start", api.StartView.as_view(), name="consult-start"),
    path(
        "consultations/<uuid:pk>",
        api.ConsultationDetailView.as_view(),
        name="consultation-detail",
    ),
    path("consultations/<uuid:pk>/accept", api.AcceptView.as_view(), name="consultation-accept"),
    path("consultations/<uuid:pk>/decline", api.DeclineView.as_view(), name="consultation-decline"),
    path("consultations/<uuid:pk>/cancel", api.CancelView.as_view(), name="consultation-cancel"),
    path("consultations/<uuid:pk>/end", api.EndView.as_view(), name="consultation-end"),
    path("consultations/<uuid:pk>/refund", api_refunds.ConsultationRefundView.as_view()),
]
