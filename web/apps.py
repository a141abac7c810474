from django.apps import AppConfig


class WebConfig(AppConfig):
    """The site's shared parts: the home page, template filters (money, times), the viewer's
    time zone, and the browser-test fixtures. Each app keeps its own pages (`views.py`)."""

    name = "web"
    verbose_name = "Web pages"
