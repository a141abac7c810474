"""Every page of the site (UI.md), in the `web` namespace: `{% url 'web:wallet' %}`.

The API's routes keep their own names (`wallet`, `consultants`, ...) outside any namespace;
the pages' live beside them here, each view in its app (`<app>/views.py`) or, for pages that
bring several apps together, in `web/views.py`.
"""

from django.urls import path

from accounts import views as accounts
from bookings import views as bookings
from consultants import views as consultants
from consultations import views as consultations
from earnings import views as earnings
from wallets import views as wallets
from web import room, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    # Accounts
    path("signup/", accounts.signup, name="signup"),
    path("login/", accounts.login, name="login"),
    path("logout/", accounts.logout, name="logout"),
    path("account/", accounts.account, name="account"),
    # Finding a consultant
    path("consultants/", consultants.discovery, name="consultants"),
    path("consultants/<uuid:consultant_id>/", views.consultant_profile, name="consultant"),
    # Consultations
    path("consultations/", views.consultations, name="consultations"),
    path("consultations/start/", consultations.start, name="consultation-start"),
    path("dashboard/requests/<uuid:consultation_id>/", consultations.incoming, name="incoming"),
    # The consultation room (web/room.py), before the answer routes' catch-all `<decision>`.
    path("consultations/<uuid:consultation_id>/", room.room, name="room"),
    path("consultations/<uuid:consultation_id>/state/", room.room_state, name="room-state"),
    path(
        "consultations/<uuid:consultation_id>/messages/", room.room_messages, name="room-messages"
    ),
    path("consultations/<uuid:consultation_id>/rtc/", room.room_rtc, name="room-rtc"),
    path("consultations/<uuid:consultation_id>/end/", room.end, name="room-end"),
    path("consultations/<uuid:consultation_id>/cancel/", room.cancel, name="room-cancel"),
    path("consultations/<uuid:consultation_id>/review/", room.review, name="room-review"),
    path("consultations/<uuid:consultation_id>/recharge/", room.recharge, name="room-recharge"),
    path(
        "consultations/<uuid:consultation_id>/recharge/verify/",
        room.recharge_verify,
        name="room-recharge-verify",
    ),
    path(
        "consultations/<uuid:consultation_id>/recharge/<uuid:payment_id>/pay/",
        room.recharge_pay,
        name="room-recharge-pay",
    ),
    path(
        "consultations/<uuid:consultation_id>/<str:decision>/",
        consultations.answer,
        name="consultation-answer",
    ),
    # Wallet
    path("wallet/", wallets.wallet, name="wallet"),
    path("wallet/verify/", wallets.verify, name="wallet-verify"),
    path("wallet/return/<uuid:payment_id>/", wallets.gateway_return, name="wallet-return"),
    path("wallet/checkout/<uuid:payment_id>/", wallets.checkout, name="checkout"),
    # Consultants' own pages
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/availability/", consultants.availability, name="availability"),
    path("dashboard/profile/", views.edit_profile, name="dashboard-profile"),
    path("dashboard/bookings/", bookings.editor, name="dashboard-bookings"),
    path("earnings/", earnings.earnings, name="earnings"),
    # Bookings
    path("bookings/new/", bookings.new_booking, name="booking-new"),
    path("bookings/<uuid:booking_id>/", bookings.booking_page, name="booking"),
    path("bookings/<uuid:booking_id>/cancel/", bookings.cancel_booking, name="booking-cancel"),
    path("bookings/<uuid:booking_id>/join/", bookings.join_booking, name="booking-join"),
]
