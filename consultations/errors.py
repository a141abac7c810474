"""The consultations app's contract errors (CONTRACT.md "Consultations")."""

from config.errors import ApiError


class ConsultationError(ApiError):
    pass


def consultant_not_found() -> ConsultationError:
    return ConsultationError(404, "not_found", "No such consultant.")


def consultant_not_verified() -> ConsultationError:
    return ConsultationError(409, "consultant_not_verified", "The consultant is not verified.")


def consultant_offline() -> ConsultationError:
    return ConsultationError(409, "consultant_offline", "The consultant is offline.")


def consultant_busy() -> ConsultationError:
    return ConsultationError(409, "consultant_busy", "The consultant is in another consultation.")


def channel_not_offered() -> ConsultationError:
    return ConsultationError(
        400, "channel_not_offered", "The consultant does not offer this channel."
    )


def client_busy() -> ConsultationError:
    return ConsultationError(
        409, "client_busy", "You already have a pending or active consultation."
    )


def invalid_state(detail: str) -> ConsultationError:
    return ConsultationError(409, "invalid_state", detail)


def not_found() -> ConsultationError:
    return ConsultationError(404, "not_found", "Not found.")


def permission_denied(detail: str) -> ConsultationError:
    return ConsultationError(403, "permission_denied", detail)
