"""The account pages' forms, and the Django admin's sign-in form: they validate what a person
typed; the services decide."""

import re

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.models import BIRTH_PLACE_MAX_CHARS, Role, User
from accounts.throttling import auth_attempt_wait
from config.clientip import client_ip
from config.errors import ApiError

_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_PHONE = re.compile(r"^\+?[0-9]{7,15}$")


def clean_phone(value: str) -> str:
    """The API's phone rule (accounts.api.PhoneField): an optional +, then 7 to 15 digits;
    spaces, dots, dashes and brackets are dropped."""
    value = _PHONE_SEPARATORS.sub("", value or "")
    if value and not _PHONE.match(value):
        raise ValidationError(_("Enter a phone number: + and 7 to 15 digits."), code="invalid")
    return value


class SignupForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.EmailField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters, not only digits, not a common password."),
    )
    role = forms.ChoiceField(
        label=_("I am a"),
        choices=[(Role.CLIENT.value, _("Client")), (Role.CONSULTANT.value, _("Consultant"))],
        initial=Role.CLIENT.value,
        widget=forms.RadioSelect,
    )

    def clean(self):
        super().clean()
        data = self.cleaned_data  # what Form.clean returns
        if data.get("password"):
            candidate = User(email=data.get("email", ""), name=data.get("name", ""))
            try:
                password_validation.validate_password(data["password"], user=candidate)
            except ValidationError as exc:
                self.add_error("password", exc)
        return data


class LoginForm(forms.Form):
    email = forms.CharField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


def code_field(*, autofocus: bool = True) -> forms.CharField:
    attrs = {"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": autofocus}
    return forms.CharField(
        label=_("Code"),
        max_length=16,
        help_text=_("The 6-digit code your authenticator app shows now."),
        widget=forms.TextInput(attrs=attrs),
    )


class CodeForm(forms.Form):
    code = code_field()


class MfaCodeForm(forms.Form):
    """The code that turns MFA on or off on the account page (no autofocus there)."""

    code = code_field(autofocus=False)


class AccountForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=32,
        required=False,
        help_text=_("With the country code, e.g. +91 98765 43210."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
    )

    def clean_phone(self) -> str:
        return clean_phone(self.cleaned_data.get("phone", ""))


class BirthDetailsForm(forms.Form):
    """CONTRACT.md `birth_details`, as a person types them: the date, and the time and place if
    they know them. The same rules as the API (`services.birth_date_problem`)."""

    birth_date = forms.DateField(
        label=_("Date of birth"),
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"),
    )
    birth_time = forms.TimeField(
        label=_("Time of birth"),
        required=False,
        input_formats=["%H:%M"],
        help_text=_("As exact as you know it; leave it empty if you do not."),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    birth_place = forms.CharField(
        label=_("Place of birth"),
        required=False,
        max_length=BIRTH_PLACE_MAX_CHARS,
        help_text=_("Town and country, e.g. Varanasi, India."),
    )

    def clean_birth_date(self):
        value = self.cleaned_data["birth_date"]
        problem = services.birth_date_problem(value)
        if problem:
            raise ValidationError(problem, code="invalid")
        return value

    def birth_details(self) -> services.BirthDetails:
        data = self.cleaned_data
        return services.BirthDetails(
            date=data["birth_date"],
            time=data.get("birth_time"),
            place=data.get("birth_place", "").strip() or None,
        )

    @staticmethod
    def initial_for(user: User) -> dict:
        return {
            "birth_date": user.birth_date,
            "birth_time": user.birth_time,
            "birth_place": user.birth_place,
        }


# --- The Django admin's sign-in -----------------------------------------------------------------
# The same lockout and MFA as the API (`accounts.services.authenticate`), and the same
# per-address budget as the API's sign-in routes (THROTTLE_RATE_AUTH).

ADMIN_MESSAGES = {
    "mfa_required": "This account needs the one-time code of its authenticator app.",
    "invalid_otp": "The one-time code is wrong.",
}


class StaffLoginForm(AdminAuthenticationForm):
    otp = forms.CharField(
        label="One-time code",
        required=False,
        max_length=16,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="From your authenticator app, if your account has MFA on.",
    )

    def clean(self):
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not email or not password:
            return self.cleaned_data
        if self.request is not None:
            wait = auth_attempt_wait(self.request)
            if wait is not None:
                raise ValidationError(
                    f"Too many sign-in attempts from your address. Try again in {int(wait) + 1} "
                    "seconds.",
                    code="throttled",
                )
        try:
            user = services.authenticate(
                email=email,
                password=password,
                otp=self.cleaned_data.get("otp") or None,
                client_ip=client_ip(self.request) if self.request is not None else None,
            )
        except ApiError as error:
            if error.code == "invalid_credentials":
                raise self.get_invalid_login_error() from None
            message = ADMIN_MESSAGES.get(error.code, str(error.detail))
            raise ValidationError(message, code=error.code) from None
        self.confirm_login_allowed(user)
        # What Django's login() records in the session (the one backend there is).
        user.backend = "accounts.backends.AccountBackend"  # type: ignore[attr-defined]
        self.user_cache = user
        return self.cleaned_data
