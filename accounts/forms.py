"""The account pages' forms: they validate what a person typed; the services decide."""

import re

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User

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
        data = super().clean()
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
