"""Times in the viewer's zone (UI.md): the pages render every time in the zone the browser
reported in the `tz` cookie (static/js/site.js sets it from `Intl`), else in TIME_ZONE."""

import zoneinfo

from django.utils import timezone

COOKIE = "tz"


def viewer_zone(name: str | None) -> zoneinfo.ZoneInfo | None:
    """The IANA zone `name`, or None for anything else (the cookie is the browser's word)."""
    if not name or len(name) > 64:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class ViewerTimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/"):
            return self.get_response(request)  # the API speaks UTC (config.middleware)
        zone = viewer_zone(request.COOKIES.get(COOKIE))
        if zone is None:
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)
