"""The one WebSocket consumer at `/ws/`. Issue 6 fills in the frames; this answers `ping` and
closes unauthenticated sockets with 4401 as the contract says."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from config.events import user_group


class SessionConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.user_group = user_group(user.id)
        await self.channel_layer.group_add(self.user_group, self.channel_name)

    async def disconnect(self, code):
        if hasattr(self, "user_group"):
            await self.channel_layer.group_discard(self.user_group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def relay(self, event):
        await self.send_json(event["frame"])
