from django.urls import path

from chat import api

urlpatterns = [
    path(
        "consultations/<uuid:pk>/messages", api.HistoryView.as_view(), name="consultation-messages"
    ),
    path("chat/<uuid:pk>", api.HistoryView.as_view(), name="chat-history"),
    path("consultations/<uuid:pk>/rtc", api.RtcView.as_view(), name="consultation-rtc"),
]
