from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404


def role_required(role: str):
    """The page is for `role` (client or consultant): anyone not signed in is sent to the
    login page; a signed-in user of another role gets a 404 (UI.md: never a stack trace, and
    nothing of a page they may not see)."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if user.role != role:
                raise Http404
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
