"""`{% load birth_details %}{% client_birth_details consultation %}`: the client's birth details,
for the room of the consultation's astrologer only (consultations/privacy.py); nothing for
anyone else."""

from datetime import date

from django import template

from consultations.privacy import reads_client_birth_details

register = template.Library()


@register.inclusion_tag("consultations/_birth_details.html", takes_context=True)
def client_birth_details(context, consultation) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    shown = bool(
        user is not None
        and user.is_authenticated
        and reads_client_birth_details(consultation=consultation, reader_id=user.id)
    )
    client = consultation.client if shown else None
    return {
        "shown": shown,
        "client_name": client.name if client else "",
        "birth_date": date.fromisoformat(client.birth_details["date"])
        if client and client.birth_details
        else None,
        "birth_time": client.birth_time if client else None,
        "birth_place": client.birth_place if client else "",
    }
