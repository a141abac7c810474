from django.apps import AppConfig


class ConsultantsConfig(AppConfig):
    name = "consultants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.signals import user_registered
        from consultants.receivers import on_user_registered

        user_registered.connect(on_user_registered, dispatch_uid="consultants.create_profile")
