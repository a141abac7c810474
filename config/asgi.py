"""The one ASGI application daphne serves: HTTP to Django, `/ws/` to Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()  # before importing anything that touches models

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.middleware import JWTAuthMiddleware, OriginCheck  # noqa: E402
from chat.routing import websocket_urlpatterns  # noqa: E402
from config.bodylimit import BodyLimitMiddleware, install_daphne_body_limit  # noqa: E402
from config.observability import (  # noqa: E402
    observe_http,
    observe_websocket,
    websocket_log_context,
)

# Bodies over their limit are refused while they arrive: in daphne's socket reader, and again
# as the application reads them (config/bodylimit.py).
install_daphne_body_limit()

application = ProtocolTypeRouter(
    {
        # Outermost: request ids, the access log and HTTP metrics see every answer (a 413 too).
        "http": observe_http(BodyLimitMiddleware(django_asgi_app)),
        # Origins outside ALLOWED_HOSTS are refused; see OriginCheck for a missing Origin.
        "websocket": observe_websocket(
            OriginCheck(JWTAuthMiddleware(websocket_log_context(URLRouter(websocket_urlpatterns))))
        ),
    }
)

# Embedded mode: the periodic jobs run in this process (services mode: Celery beat + workers).
from django.conf import settings  # noqa: E402

if settings.EMBEDDED_TICKER:
    from config.jobs import start_ticker

    start_ticker()
