from django.apps import AppConfig


class ConsultationsConfig(AppConfig):
    name = "consultations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from consultations.freezes import end_open_consultations
        from wallets.freezes import wallet_frozen

        wallet_frozen.connect(end_open_consultations, dispatch_uid="consultations.freezes")
