from django.apps import AppConfig


class EarningsConfig(AppConfig):
    name = "earnings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from earnings import receivers  # noqa: F401 - connects the signal receivers
