from django.apps import AppConfig


class ConsultantsConfig(AppConfig):
    name = "consultants"
    default_auto_field = "django.db.models.BigAutoField"
