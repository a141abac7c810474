"""One settings module, read from the environment (see README "Configuration").

Two ways to run, chosen by the environment alone:

* embedded (no DATABASE_URL / REDIS_URL): SQLite file, in-memory channel layer, local-memory
  cache, Celery tasks run eagerly and an in-process ticker drives billing;
* services: PostgreSQL through psycopg 3, Redis for the channel layer, cache, locks and the
  Celery broker.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

from config import deploy
from config.env import env_bool, env_int, env_list, env_rate, env_str, env_url
from config.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
# With DEBUG=0 every missing or unsafe secret is collected here and the start refused at the
# end of this module, naming them all (config/deploy.py).
_refusals = deploy.Refusals()
SECRET_KEY = deploy.signing_key("SECRET_KEY", debug=DEBUG, refusals=_refusals, required=True)

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    _refusals.add(
        "ALLOWED_HOSTS must be set when DEBUG is off: the site's host names, comma-separated"
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

DATABASE_URL = env_url("DATABASE_URL", {"postgres", "postgresql", "sqlite"})
REDIS_URL = env_url("REDIS_URL", {"redis", "rediss", "unix"})
EMBEDDED = DATABASE_URL is None and REDIS_URL is None

INSTALLED_APPS = [
    "daphne",
    "config.admin_site.OpsAdminConfig",  # django.contrib.admin with the operators' index
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by us: /api/docs/ works offline
    "channels",
    "accounts",
    "wallets",
    "consultants",
    "consultations",
    "chat",
    "reviews",
    "earnings",
    "bookings",
    "web",
]

MIDDLEWARE = [
    "config.request_context.RequestContextMiddleware",  # X-Request-ID and the log context
    "config.middleware.ApiPathMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files from the server process itself, in every mode (README "Web pages").
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the switcher's cookie, else Accept-Language (README "Languages").
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "web.middleware.ViewerTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The pages' Content-Security-Policy (README "Content-Security-Policy").
    "config.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "config.urls"
# The pages' paths end with a slash (UI.md): `/wallet` redirects to `/wallet/`. API routes are
# declared without one and ApiPathMiddleware accepts both, so they never redirect.
APPEND_SLASH = True
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "web.context_processors.site",
            ],
            # Every page translates, links static files and formats money: no `{% load %}`.
            "builtins": [
                "django.templatetags.i18n",
                "django.templatetags.static",
                "web.templatetags.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
if DATABASE_URL:
    _db = environ.Env.db_url_config(DATABASE_URL)
    if _db["ENGINE"].endswith("postgresql"):
        _db["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
        _db["CONN_HEALTH_CHECKS"] = True
    DATABASES = {"default": _db}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # Several threads (the ticker, daphne's sync workers) write to one file.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, channel layer, Celery -------------------------------------------------------------
KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "consult")
if REDIS_URL:
    CACHES: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": KEY_PREFIX,
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }
    # `pubsub` (default): channels-redis' pub/sub layer, one PUBLISH per group send and one
    # subscription per process. `core`: the list-based layer, which polls per message and fell
    # behind past a few hundred sockets per process (README "Real time").
    CHANNEL_LAYER_BACKEND = env_str("CHANNEL_LAYER_BACKEND", "pubsub")
    if CHANNEL_LAYER_BACKEND not in {"core", "pubsub"}:
        raise ImproperlyConfigured(
            f"CHANNEL_LAYER_BACKEND={CHANNEL_LAYER_BACKEND!r}: core or pubsub"
        )
    # Sharding the channel layer (docs/operations.md "Scaling out"): channels-redis spreads the
    # groups over these Redis servers by consistent hashing. Default: REDIS_URL alone.
    CHANNEL_LAYER_REDIS_URLS = env_list("CHANNEL_LAYER_REDIS_URLS", [REDIS_URL])
    if CHANNEL_LAYER_BACKEND == "pubsub":
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "config.channel_layer.BatchingPubSubChannelLayer",
                "CONFIG": {
                    # RESP2: redis-py 8 speaks RESP3 by default, whose parser writes every
                    # published message out as text for a debug line before the logger drops
                    # it (3-4 % of a daphne process's CPU in the chat benchmark, bench/CHAT.md).
                    "hosts": [{"address": url, "protocol": 2} for url in CHANNEL_LAYER_REDIS_URLS],
                    "prefix": env_str("CHANNEL_LAYER_PREFIX", "asgi") or "asgi",
                },
            }
        }
    else:
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    # redis-py's pool refuses a 101st concurrent command by default (an error, not
                    # a wait): a burst of sockets connecting at once would crash them with 1011.
                    "hosts": [
                        {
                            "address": url,
                            "max_connections": env_int(
                                "CHANNEL_LAYER_MAX_CONNECTIONS", 1000, minimum=10
                            ),
                        }
                        for url in CHANNEL_LAYER_REDIS_URLS
                    ],
                    "prefix": env_str("CHANNEL_LAYER_PREFIX", "asgi") or "asgi",
                    "capacity": 1000,
                    "expiry": 60,
                },
            }
        }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    # No broker in the embedded mode: tasks run in the calling process.
    CELERY_TASK_ALWAYS_EAGER = True

CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 60, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 50, minimum=1)
CELERY_TASK_ACKS_LATE = True
# With acks_late, a task whose worker died is redelivered after the broker's visibility
# timeout (Redis' default is an hour). Two task time limits: a killed tick is redone within
# minutes, and a slow one redone while still running only finds its work done.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * CELERY_TASK_TIME_LIMIT}
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"

# --- Auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Sign-in through accounts.services (lockout, MFA) for every caller of authenticate().
AUTHENTICATION_BACKENDS = ["accounts.backends.AccountBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

JWT_ACCESS_MINUTES = env_int("JWT_ACCESS_MINUTES", 15, minimum=1)
JWT_REFRESH_DAYS = env_int("JWT_REFRESH_DAYS", 7, minimum=1)
# A sign-in's absolute lifetime: rotating refresh tokens never carries a session past it.
JWT_SESSION_MAX_DAYS = env_int("JWT_SESSION_MAX_DAYS", 30, minimum=1)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=JWT_ACCESS_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=JWT_REFRESH_DAYS),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    # Tokens carry a digest of the password hash: a new password ends the old access tokens.
    "CHECK_REVOKE_TOKEN": True,
    # Recommended in production: tokens then survive a SECRET_KEY rotation and vice versa.
    "SIGNING_KEY": deploy.signing_key(
        "JWT_SIGNING_KEY", debug=DEBUG, refusals=_refusals, required=False
    )
    or SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}

# Lockout: LOGIN_MAX_FAILURES failed logins for one email within LOGIN_LOCKOUT_SECONDS lock it
# for LOGIN_LOCKOUT_SECONDS.
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60, minimum=1)

# --- REST framework ---------------------------------------------------------------------------
THROTTLE_RATE_ANON = env_rate("THROTTLE_RATE_ANON", "100/min")
THROTTLE_RATE_USER = env_rate("THROTTLE_RATE_USER", "1000/min")
THROTTLE_RATE_AUTH = env_rate("THROTTLE_RATE_AUTH", "20/min")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.CursorPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "config.throttling.AnonRateThrottle",
        "config.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": THROTTLE_RATE_ANON,
        "user": THROTTLE_RATE_USER,
        "auth": THROTTLE_RATE_AUTH,
    },
    "EXCEPTION_HANDLER": "config.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Consultation platform API",
    "DESCRIPTION": (
        "Paid, real-time consultations billed by the second. Money is integer paise. "
        "Every error body is {code, detail} (+ fields on 400 invalid)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "ENUM_NAME_OVERRIDES": {
        "PayoutStatusEnum": "earnings.models.PayoutStatus",
        "ConsultationStatusEnum": "consultations.models.Status",
        "PaymentStatusEnum": "wallets.models.PaymentStatus",
        "RefundStatusEnum": "wallets.models.RefundStatus",
        "MessageStatusEnum": "chat.models.MessageStatus",
        "DocumentKindEnum": "consultants.models.DocumentKind",
        "EntryKindEnum": "wallets.models.EntryKind",
        "ConsultationKindEnum": "consultations.models.Kind",
        "BookingStatusEnum": "bookings.models.Status",
        "BookingPartyEnum": "bookings.models.Party",
        "BookingPaymentMethodEnum": "bookings.models.PaymentMethod",
        # A recharge's and a booking's payment share each gateway's one-value discriminator.
        "RazorpayGatewayEnum": [("razorpay", "razorpay")],
        "StripeGatewayEnum": [("stripe", "stripe")],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.document_common_errors",
        "config.schema.make_exact",
    ],
}

# Request bodies: JSON bodies over API_MAX_BODY_BYTES answer 413 `payload_too_large`; multipart
# uploads may reach MAX_UPLOAD_BYTES.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 5 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# Each consultant's documents: how many, and how many bytes in all.
DOCUMENTS_MAX_COUNT = env_int("DOCUMENTS_MAX_COUNT", 20, minimum=1)
DOCUMENTS_MAX_TOTAL_BYTES = env_int("DOCUMENTS_MAX_TOTAL_BYTES", 50 * 1024 * 1024, minimum=1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- Payments ---------------------------------------------------------------------------------
# PAYMENT_GATEWAY is required with DEBUG=0, `local` only with ALLOW_OFFLINE_PAYMENTS=1, and the
# gateway's secrets never fall back to built-in values outside DEBUG=1 (config/deploy.py).
_payments = deploy.payments(debug=DEBUG, refusals=_refusals)
PAYMENT_GATEWAY = _payments.gateway
ALLOW_OFFLINE_PAYMENTS = _payments.allow_offline
RAZORPAY_KEY_ID = _payments.secrets.get("RAZORPAY_KEY_ID")
RAZORPAY_KEY_SECRET = _payments.secrets.get("RAZORPAY_KEY_SECRET")
RAZORPAY_WEBHOOK_SECRET = _payments.secrets.get("RAZORPAY_WEBHOOK_SECRET")
# PAYMENT_GATEWAY=stripe: the secret key calls the API, the publishable key goes to Stripe.js on
# the wallet page, the webhook secret checks `Stripe-Signature`.
STRIPE_SECRET_KEY = _payments.secrets.get("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = _payments.secrets.get("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = _payments.secrets.get("STRIPE_WEBHOOK_SECRET")
CURRENCY = "INR"

# --- Billing and consultations (CONTRACT.md "Settings that change behaviour") ----------------
BILLING_TICK_SECONDS = env_int("BILLING_TICK_SECONDS", 10, minimum=1, maximum=3600)
MIN_MINUTES = env_int("MIN_MINUTES", 5, minimum=0, maximum=1440)
PLATFORM_COMMISSION_PERCENT = env_int("PLATFORM_COMMISSION_PERCENT", 20, minimum=0, maximum=100)
RING_TIMEOUT_SECONDS = env_int("RING_TIMEOUT_SECONDS", 60, minimum=1)
PRESENCE_GRACE_SECONDS = env_int("PRESENCE_GRACE_SECONDS", 15, minimum=0)
DISCONNECT_TIMEOUT_SECONDS = env_int("DISCONNECT_TIMEOUT_SECONDS", 120, minimum=1)
# The highest per-minute rate a consultant may ask, in paise (default Rs 10,000 a minute).
MAX_RATE_PER_MINUTE = env_int("MAX_RATE_PER_MINUTE", 1_000_000, minimum=1)
# 2,000 measured best for the set-based tick (bench/BILLING.md: 500 -> 11 s, 5,000 -> 8-10 s)
BILLING_BATCH_SIZE = env_int("BILLING_BATCH_SIZE", 2000, minimum=1)
# Batches of one tick billed at once, each on its own connection (PostgreSQL; SQLite: one).
# 2 measured best on 2 cores (bench/BILLING.md); more wants more cores for PostgreSQL.
BILLING_WORKERS = env_int("BILLING_WORKERS", 2, minimum=1, maximum=16)
# How often the consultations whose end has come (a booking's end, money running out) are ended.
END_SWEEP_SECONDS = env_int("END_SWEEP_SECONDS", 1, minimum=1, maximum=60)
# --- Scheduled bookings (CONTRACT.md "Scheduled bookings"; README "Bookings") -----------------
# The client's refund when they cancel: everything at least FULL hours before the start, LATE
# percent (rounded down) at least NO hours before, nothing later.
BOOKING_FULL_REFUND_HOURS = env_int("BOOKING_FULL_REFUND_HOURS", 24, minimum=0)
BOOKING_NO_REFUND_HOURS = env_int("BOOKING_NO_REFUND_HOURS", 2, minimum=0)
BOOKING_LATE_REFUND_PERCENT = env_int("BOOKING_LATE_REFUND_PERCENT", 50, minimum=0, maximum=100)
# A pending (gateway) booking's time to be paid; how early its room opens; how late a
# participant may be before it is a no-show.
BOOKING_PAYMENT_MINUTES = env_int("BOOKING_PAYMENT_MINUTES", 15, minimum=1)
BOOKING_JOIN_EARLY_MINUTES = env_int("BOOKING_JOIN_EARLY_MINUTES", 5, minimum=0)
BOOKING_NO_SHOW_MINUTES = env_int("BOOKING_NO_SHOW_MINUTES", 10, minimum=1)
# How often the bookings' lifecycle job runs (expiry, no-shows, completion, reminders).
BOOKING_SWEEP_SECONDS = env_int("BOOKING_SWEEP_SECONDS", 30, minimum=1, maximum=3600)
# Where the site is, for links in emails (the booking's page).
SITE_URL = env_str("SITE_URL", "http://localhost:8000") or "http://localhost:8000"

# --- Email (booking confirmations, reminders) ---------------------------------------------------
# Django's email framework: SMTP from EMAIL_URL (smtp+tls://user:password@host:587), else the
# console backend (`make run` prints each message).
EMAIL_URL = env_str("EMAIL_URL", "")
if EMAIL_URL:
    globals().update(environ.Env.email_url_config(EMAIL_URL))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Consult <bookings@localhost>") or ""

# Embedded mode only: run the periodic jobs (config/jobs.py) inside the server process.
EMBEDDED_TICKER = env_bool("EMBEDDED_TICKER", EMBEDDED)

# --- Real time ----------------------------------------------------------------------------------
WS_MAX_FRAME_BYTES = env_int("WS_MAX_FRAME_BYTES", 8 * 1024, minimum=256)
WS_RATE_LIMIT_PER_SECOND = env_int("WS_RATE_LIMIT_PER_SECOND", 20, minimum=1)
# Seconds a socket without `?token=` has to send its `authenticate` frame (then 4401).
WS_AUTH_TIMEOUT_SECONDS = env_int("WS_AUTH_TIMEOUT_SECONDS", 10, minimum=1)
# A socket counts as open in the presence store for this long after its last heartbeat (the
# consumer beats every third of it), so a crashed process cannot keep a user online.
WS_PRESENCE_TTL_SECONDS = env_int("WS_PRESENCE_TTL_SECONDS", 30, minimum=3)
STUN_URLS = env_list("STUN_URLS", ["stun:stun.l.google.com:19302"])
TURN_URLS = env_list("TURN_URLS", [])
TURN_SECRET = env_str("TURN_SECRET", "")
TURN_CREDENTIAL_TTL_SECONDS = env_int("TURN_CREDENTIAL_TTL_SECONDS", 3600, minimum=60)

# --- I18N, static, media ----------------------------------------------------------------------
LANGUAGE_CODE = "en"
# --- Languages (README "Languages"): every page and every error `detail` in English and Hindi.
LANGUAGES = [("en", "English"), ("hi", "हिन्दी")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600  # the switcher's choice is remembered for a year
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = env_str("TIME_ZONE", "Asia/Kolkata")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# --- Web pages ---------------------------------------------------------------------------------
# WhiteNoise serves /static/ from daphne itself. With DEBUG it reads the apps' and static/'s
# files directly (no collectstatic, edits show at once); in production from STATIC_ROOT, made
# by `collectstatic` (Dockerfile), with hashed names and gzip/brotli copies, cached for a year.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "web.storage.StaticStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
# Uploaded documents are private: stored outside any served path and shown only in the admin.
PRIVATE_MEDIA_ROOT = Path(env_str("PRIVATE_MEDIA_ROOT", str(BASE_DIR / "private_media")) or "")

# --- Security (production) ----------------------------------------------------------------------
# How many proxies in front of the server append to X-Forwarded-For (config/clientip.py). 0: none,
# the header is ignored and REMOTE_ADDR is the client.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10)
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# X-Forwarded-Proto says "https" only when a trusted proxy wrote it: without one, any client
# could send it and pass for a secure request (secure cookies, no redirect).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXY_COUNT else None
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
# Opt-in: both reach beyond this site (every subdomain; browsers' built-in lists, slow to leave).
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Django's deploy checks warn when they are off; off is this project's considered default.
SILENCED_SYSTEM_CHECKS = [
    *([] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]),
    *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
X_FRAME_OPTIONS = "DENY"

# --- Operations: logs and metrics (docs/operations.md) ----------------------------------------
# One JSON object a line by default in production; `LOG_FORMAT=text` for a person at a terminal.
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json")
LOGGING = logging_config(fmt=LOG_FORMAT or "json", level=env_str("LOG_LEVEL", "INFO") or "INFO")
# `GET /metrics` answers 404 while this is unset and wants `Authorization: Bearer <token>`.
METRICS_TOKEN = env_str("METRICS_TOKEN")
# prometheus-client's multiprocess folder (config/metrics.py): every process of a machine writes
# its figures there and /metrics adds them up. Read from the environment by the library itself.
if env_str("PROMETHEUS_MULTIPROC_DIR"):
    Path(env_str("PROMETHEUS_MULTIPROC_DIR") or "").mkdir(parents=True, exist_ok=True)
# Celery logs through LOGGING too (config.logs.connect_celery).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Refusals (DEBUG=0) ---------------------------------------------------------------------------
_refusals.raise_if_any()
