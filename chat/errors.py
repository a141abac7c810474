"""The chat app's contract errors, for the API (status + code) and for `error` frames (code)."""

from config.errors import ApiError


class ChatError(ApiError):
    pass


def not_found(detail: str = "No such session, or you are not part of it.") -> ChatError:
    return ChatError(404, "not_found", detail)


def invalid_state(detail: str) -> ChatError:
    return ChatError(409, "invalid_state", detail)


def channel_not_offered(detail: str = "This is a chat consultation: no calls.") -> ChatError:
    return ChatError(409, "channel_not_offered", detail)


def invalid(detail: str) -> ChatError:
    return ChatError(400, "invalid", detail)
