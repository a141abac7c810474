from django.apps import AppConfig


class ConsultantsConfig(AppConfig):
    name = "consultants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from accounts.models import User
        from accounts.signals import user_registered
        from consultants.receivers import on_user_registered, on_user_saved

        user_registered.connect(on_user_registered, dispatch_uid="consultants.create_profile")
        post_save.connect(on_user_saved, sender=User, dispatch_uid="consultants.search_text")
