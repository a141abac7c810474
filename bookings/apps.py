from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bookings import money, services
        from consultations.services import add_busy_check
        from consultations.signals import consultation_ended
        from wallets.payments import on_payment_captured
        from wallets.reconcile import add_check

        # A consultant with a booking in progress, or a confirmed one about to start, is busy.
        add_busy_check(services.consultant_is_booked, uid="bookings.consultant_is_booked")
        # A booked consultation's end completes its booking (in the same transaction).
        consultation_ended.connect(
            services.on_consultation_ended, dispatch_uid="bookings.on_consultation_ended"
        )
        # A captured gateway payment confirms the booking it was ordered for.
        on_payment_captured(services.confirm_paid_booking, uid="bookings.confirm_paid_booking")
        # reconcile_ledger: the money held for bookings.
        add_check(money.check_books, uid="bookings.check_books")
