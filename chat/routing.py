from django.urls import path

from chat.consumers import SessionConsumer

websocket_urlpatterns = [path("ws/", SessionConsumer.as_asgi())]
