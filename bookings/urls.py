from django.urls import path

from bookings import api

urlpatterns = [
    path(
        "consultants/<uuid:pk>/session-types",
        api.PublicSessionTypesView.as_view(),
        name="consultant-session-types",
    ),
    path("consultants/<uuid:pk>/slots", api.SlotsView.as_view(), name="consultant-slots"),
    path(
        "consultants/me/session-types",
        api.MySessionTypesView.as_view(),
        name="my-session-types",
    ),
    path(
        "consultants/me/session-types/<uuid:pk>",
        api.MySessionTypeView.as_view(),
        name="my-session-type",
    ),
    path("consultants/me/schedule", api.MyScheduleView.as_view(), name="my-schedule"),
    path("bookings", api.BookingListView.as_view(), name="bookings"),
    path("bookings/<uuid:pk>", api.BookingDetailView.as_view(), name="booking-detail"),
    path("bookings/<uuid:pk>/cancel", api.BookingCancelView.as_view(), name="booking-cancel"),
    path("bookings/<uuid:pk>/join", api.BookingJoinView.as_view(), name="booking-join"),
]
