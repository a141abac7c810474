"""Accounts API (CONTRACT.md "Accounts"): thin views over `accounts.services`."""

import re
from datetime import UTC, time

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts import services
from accounts.models import BIRTH_PLACE_MAX_CHARS, Role, User
from accounts.permissions import signed_in_user
from accounts.throttling import AuthRateThrottle
from accounts.tokens import TokenPair, issue_tokens
from config.clientip import client_ip
from config.fields import StrictCharField, StrictEmailField
from config.schema import error_responses

# --- Fields -------------------------------------------------------------------------------------


_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_PHONE = re.compile(r"^\+?[0-9]{7,15}$")


PHONE_MAX_LENGTH = 32


@extend_schema_field(
    {
        "type": "string",
        "maxLength": PHONE_MAX_LENGTH,
        # PhoneField's rule for the schema: separators anywhere, then an optional + and 7 to 15
        # digits once they are dropped; or separators only (blank).
        "pattern": r"^[\s().-]*((\+[\s().-]*)?([0-9][\s().-]*){7,15})?$",
    }
)
class PhoneField(StrictCharField):
    """An international phone number: an optional +, then 7 to 15 digits; spaces, dots,
    dashes and brackets are dropped. At most 32 characters as sent."""

    default_error_messages = {"invalid_phone": _("Enter a phone number: + and 7 to 15 digits.")}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", PHONE_MAX_LENGTH)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and len(data) > PHONE_MAX_LENGTH:
            self.fail("max_length", max_length=PHONE_MAX_LENGTH)
        value = _PHONE_SEPARATORS.sub("", super().to_internal_value(data))
        if value and not _PHONE.match(value):
            self.fail("invalid_phone")
        return value


def otp_field(**kwargs) -> StrictCharField:
    # Any string: a code of another shape than six digits is not refused as `invalid` but is a
    # wrong code (`invalid_otp`, counted by the lockout) like any other, so the schema has no
    # pattern that the server would not keep.
    kwargs.setdefault("help_text", "The 6-digit code of the authenticator app.")
    return StrictCharField(max_length=16, **kwargs)


# --- Serializers --------------------------------------------------------------------------------


_HH_MM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


@extend_schema_field(
    {"type": "string", "pattern": r"^\s*([01][0-9]|2[0-3]):[0-5][0-9]\s*$", "nullable": True}
)
class BirthTimeField(StrictCharField):
    """A time of day as "HH:MM" (24-hour clock), nothing else."""

    default_error_messages = {"invalid_time": _("Enter a time as HH:MM, e.g. 06:45 or 18:30.")}

    # A string field on the wire that parses into a `time`: DRF's stubs type a field's internal
    # value by its base class (str), which this field deliberately changes.
    def to_internal_value(self, data) -> time:  # type: ignore[override]
        match = _HH_MM.match(super().to_internal_value(data))
        if match is None:
            self.fail("invalid_time")
        return time(int(match[1]), int(match[2]))

    def to_representation(self, value) -> str:
        return value.strftime("%H:%M")


@extend_schema_field(
    # The year from 1900 (services.EARLIEST_BIRTH_DATE) in the pattern; "not in the future" no
    # schema can say (schemathesis.toml).
    {"type": "string", "format": "date", "pattern": r"^(19|[2-9]\d)\d\d-\d\d-\d\d$"}
)
class BirthDateField(serializers.DateField):
    pass


class BirthDetailsSerializer(serializers.Serializer):
    """CONTRACT.md `birth_details`: what an astrologer needs; time and place may be unknown."""

    date = BirthDateField(
        input_formats=["%Y-%m-%d"], help_text="YYYY-MM-DD, from 1900, not in the future."
    )
    time = BirthTimeField(
        required=False, allow_null=True, default=None, help_text="HH:MM (24 h), or null."
    )
    place = StrictCharField(
        max_length=BIRTH_PLACE_MAX_CHARS,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="Town and country, or null.",
    )

    def validate_date(self, value):
        problem = services.birth_date_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate(self, attrs) -> services.BirthDetails:
        return services.BirthDetails(
            date=attrs["date"], time=attrs.get("time"), place=attrs.get("place") or None
        )


class UserSerializer(serializers.ModelSerializer):
    # CONTRACT.md: timestamps in UTC (DRF would render them in TIME_ZONE, Asia/Kolkata).
    date_joined = serializers.DateTimeField(read_only=True, default_timezone=UTC)
    birth_details = serializers.SerializerMethodField(
        help_text="The user's own birth details (for astrologers), or null."
    )

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "name",
            "phone",
            "role",
            "mfa_enabled",
            "date_joined",
            "birth_details",
        ]
        read_only_fields = fields

    @extend_schema_field(BirthDetailsSerializer(allow_null=True))
    def get_birth_details(self, user: User) -> dict | None:
        return user.birth_details


def _dotted(errors, prefix: str = "") -> dict:
    """Nested serializer errors as one level: {"birth_details": {"date": [...]}} becomes
    {"birth_details.date": [...]}."""
    flat: dict = {}
    for name, value in errors.items():
        key = prefix.rstrip(".") if prefix and name == "non_field_errors" else f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_dotted(value, prefix=f"{key}."))
        else:
            flat[key] = value
    return flat


class MeUpdateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=150, required=False)
    phone = PhoneField(required=False, allow_blank=True)
    birth_details = BirthDetailsSerializer(
        required=False, allow_null=True, help_text="null clears them."
    )


class RegisterSerializer(serializers.Serializer):
    email = StrictEmailField(max_length=254)
    password = StrictCharField(
        min_length=8,
        max_length=128,
        trim_whitespace=False,
        write_only=True,
        help_text="At least 8 characters, not all digits, not a common password, not like the "
        "email or name (Django's validators).",
    )
    name = StrictCharField(max_length=150)
    role = serializers.ChoiceField(choices=[Role.CLIENT.value, Role.CONSULTANT.value])
    phone = PhoneField(required=False, allow_blank=True, default="")
    category = serializers.SlugField(
        max_length=64,
        required=False,
        allow_null=True,
        default=None,
        help_text="The consultant's category slug (see GET /categories); ignored for clients.",
    )

    def validate(self, attrs):
        candidate = User(email=attrs["email"], name=attrs["name"], phone=attrs.get("phone", ""))
        try:
            password_validation.validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class LoginSerializer(serializers.Serializer):
    email = StrictCharField(max_length=254)
    password = StrictCharField(max_length=128, trim_whitespace=False, write_only=True)
    otp = otp_field(required=False, allow_blank=True, allow_null=True)


class RefreshSerializer(serializers.Serializer):
    refresh = StrictCharField(max_length=4096)


class OtpSerializer(serializers.Serializer):
    otp = otp_field()


class MfaSetupSerializer(serializers.Serializer):
    otp = otp_field(
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="The current 6-digit code: needed only while MFA is on (a new authenticator).",
    )


class AuthResponseSerializer(serializers.Serializer):
    user = UserSerializer()
    access = serializers.CharField()
    refresh = serializers.CharField()


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class MfaSetupResponseSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Base32 TOTP secret.")
    otpauth_url = serializers.CharField(help_text="otpauth:// URL for a QR code.")


def _auth_body(user: User, tokens: TokenPair) -> dict:
    return {"user": UserSerializer(user).data, "access": tokens.access, "refresh": tokens.refresh}


# --- Views --------------------------------------------------------------------------------------


class PublicAuthView(APIView):
    """No authentication (a stale Authorization header must not stop a login), AllowAny, and
    the `auth` throttle on top of the defaults."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # api_settings imports the dotted paths in DEFAULT_THROTTLE_CLASSES, so these are classes;
    # the stubs type the setting as the strings written in settings.py.
    throttle_classes = [*api_settings.DEFAULT_THROTTLE_CLASSES, AuthRateThrottle]  # type: ignore[list-item]


_AUTH_ERRORS = {401: "not_authenticated", 405: "method_not_allowed"}
_PUBLIC_ERRORS = {405: "method_not_allowed", 429: "throttled"}


class RegisterView(PublicAuthView):
    @extend_schema(
        operation_id="auth_register",
        tags=["auth"],
        description=(
            "Creates a client or a consultant (admins come from `createsuperuser`) and signs "
            "them in. `category` is the consultant's category slug; it is ignored for clients. "
            "Passwords go through Django's validators (400 `invalid`, `fields.password`)."
        ),
        request=RegisterSerializer,
        responses={
            201: AuthResponseSerializer,
            **error_responses({400: "invalid", 409: "email_taken", **_PUBLIC_ERRORS}),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.register_user(**serializer.validated_data)
        return Response(_auth_body(user, issue_tokens(user)), status=status.HTTP_201_CREATED)


class LoginView(PublicAuthView):
    @extend_schema(
        operation_id="auth_login",
        tags=["auth"],
        description=(
            "LOGIN_MAX_FAILURES failed attempts for one email within LOGIN_LOCKOUT_SECONDS "
            "lock it: the failure that reaches the limit answers 401, every attempt after it "
            "423 `account_locked` until the time named in `detail`. A wrong `otp` counts as a "
            "failure; `mfa_required` does not."
        ),
        request=LoginSerializer,
        responses={
            200: AuthResponseSerializer,
            **error_responses(
                {
                    400: "invalid",
                    401: ["invalid_credentials", "mfa_required", "invalid_otp"],
                    423: "account_locked",
                    **_PUBLIC_ERRORS,
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, tokens = services.login(**serializer.validated_data, client_ip=client_ip(request))
        return Response(_auth_body(user, tokens))


class RefreshView(PublicAuthView):
    @extend_schema(
        operation_id="auth_refresh",
        tags=["auth"],
        request=RefreshSerializer,
        responses={
            200: TokenPairSerializer,
            **error_responses({400: "invalid", 401: "token_not_valid", **_PUBLIC_ERRORS}),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tokens = services.refresh_tokens(**serializer.validated_data)
        return Response({"access": tokens.access, "refresh": tokens.refresh})


class LogoutView(APIView):
    @extend_schema(
        operation_id="auth_logout",
        tags=["auth"],
        request=RefreshSerializer,
        responses={
            204: OpenApiResponse(description="The refresh token is blacklisted."),
            **error_responses(
                {
                    400: "invalid",
                    401: ["not_authenticated", "token_not_valid"],
                    405: "method_not_allowed",
                }
            ),
        },
        description=(
            "Blacklists the given refresh token. A refresh token that is invalid, already used "
            "or logged out, or that belongs to another user answers 401 `token_not_valid`."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.logout(user=signed_in_user(request), **serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(
        operation_id="auth_me",
        tags=["auth"],
        responses={200: UserSerializer, **error_responses(_AUTH_ERRORS)},
    )
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)

    @extend_schema(
        operation_id="auth_me_update",
        tags=["auth"],
        request=MeUpdateSerializer,
        responses={200: UserSerializer, **error_responses({400: "invalid", **_AUTH_ERRORS})},
        description=(
            "Changes the fields given: `name`, `phone`, `birth_details` (`null` clears them). "
            "Birth details are private: only the user reads them here, and an astrologer reads "
            "them as `client_birth_details` inside their own consultations with this client."
        ),
    )
    def patch(self, request: Request) -> Response:
        serializer = MeUpdateSerializer(data=request.data)
        if not serializer.is_valid():
            # `fields` maps a field to its messages (CONTRACT.md): `birth_details.date`, not a
            # nested object.
            raise serializers.ValidationError(_dotted(serializer.errors))
        data = serializer.validated_data
        user = services.update_account(
            user=signed_in_user(request),
            name=data.get("name"),
            phone=data.get("phone"),
            birth_details=data["birth_details"] if "birth_details" in data else services.UNCHANGED,
        )
        return Response(UserSerializer(user).data)


class MfaSetupView(APIView):
    @extend_schema(
        operation_id="auth_mfa_setup",
        tags=["auth"],
        request=MfaSetupSerializer,
        responses={
            200: MfaSetupResponseSerializer,
            **error_responses(
                {400: ["invalid", "invalid_otp"], **_AUTH_ERRORS, 423: "account_locked"}
            ),
        },
        description=(
            "Makes a new TOTP secret. MFA off: it is turned on by `mfa/enable`. MFA on (a new "
            "authenticator): the body must carry the current `otp` (400 `invalid_otp` without "
            "it or when wrong; wrong codes count toward the login lockout, 423 "
            "`account_locked`); the new secret replaces the current one when `mfa/enable` gets "
            "a code of it, and until then the current authenticator keeps working."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = MfaSetupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        secret, url = services.setup_mfa(
            user=signed_in_user(request),
            otp=serializer.validated_data.get("otp"),
            client_ip=client_ip(request),
        )
        return Response({"secret": secret, "otpauth_url": url})


class MfaEnableView(APIView):
    @extend_schema(
        operation_id="auth_mfa_enable",
        tags=["auth"],
        request=OtpSerializer,
        responses={
            200: UserSerializer,
            **error_responses(
                {
                    400: ["invalid", "invalid_otp"],
                    **_AUTH_ERRORS,
                    409: ["mfa_already_enabled", "mfa_not_set_up"],
                    423: "account_locked",
                }
            ),
        },
        description=(
            "Turns MFA on with a code of the secret from `mfa/setup`, or, after a second "
            "`mfa/setup` while MFA is on, moves it to the new secret. Wrong codes count toward "
            "the login lockout."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = OtpSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.enable_mfa(
            user=signed_in_user(request), **serializer.validated_data, client_ip=client_ip(request)
        )
        return Response(UserSerializer(user).data)


class MfaDisableView(APIView):
    @extend_schema(
        operation_id="auth_mfa_disable",
        tags=["auth"],
        request=OtpSerializer,
        responses={
            200: UserSerializer,
            **error_responses(
                {
                    400: ["invalid", "invalid_otp"],
                    **_AUTH_ERRORS,
                    409: "mfa_not_enabled",
                    423: "account_locked",
                }
            ),
        },
        description="Needs the current code; wrong codes count toward the login lockout.",
    )
    def post(self, request: Request) -> Response:
        serializer = OtpSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.disable_mfa(
            user=signed_in_user(request), **serializer.validated_data, client_ip=client_ip(request)
        )
        return Response(UserSerializer(user).data)
