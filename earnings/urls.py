from django.urls import path

from earnings import api

urlpatterns = [
    path("earnings", api.EarningListView.as_view(), name="earnings"),
    path("earnings/summary", api.SummaryView.as_view(), name="earnings-summary"),
    path("earnings/payouts", api.PayoutView.as_view(), name="earnings-payouts"),
]
