"""LedgerLink Billing settings: one module, driven by the environment (12-factor).

With nothing set, everything runs embedded on one machine: a SQLite file database,
an in-process cache and background work run in-process. See README "Configuration".
"""

import datetime as dt
import sys
from pathlib import Path

import environ
from corsheaders.defaults import default_headers as cors_default_headers
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# The development default is refused when DEBUG is off (see backend/hardening.py).
INSECURE_DEFAULT_SECRET_KEY = "insecure-development-key-change-me"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_DEFAULT_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])

INSTALLED_APPS = [
    "backend",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets, pinned and served by the app (no CDN)
    "strawberry_django",
    "billing",
    "graphql_schema",
    "rest_compat",
    "accounts",
    "dashboard",
]

MIDDLEWARE = [
    "backend.middleware.RequestIdMiddleware",
    "backend.request_logging.RequestLogMiddleware",
    "backend.middleware.ApiNotFoundMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.authentication.BearerAuthenticationMiddleware",
    "accounts.throttling.FailedLoginThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "backend.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "backend.wsgi.application"

# --- Database -------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Each worker keeps its connection between requests (a new PostgreSQL connection per request
# costs a backend process fork); it is checked before reuse, so a restarted server is survived.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_PREPARED_STATEMENTS", default=True
):
    # Server-side binding lets psycopg prepare a statement once it has run 5 times on a connection,
    # so PostgreSQL stops planning the same few queries on every request (0.7 to 1 ms each). Turn
    # it off behind a pooler that cannot keep prepared statements (PgBouncer in transaction mode
    # before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Embedded mode under concurrency (docs/operations.md): readers never block the writer (WAL),
    # and a transaction takes the write lock when it begins (IMMEDIATE), waiting up to
    # SQLITE_BUSY_TIMEOUT seconds for it, so concurrent writers queue instead of failing with
    # "database is locked" when a reader turns writer.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env.float("SQLITE_BUSY_TIMEOUT", default=60.0),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# Job progress is written through a second connection to the same database, committed on
# its own, so other processes see it while the generation transaction is still open
# (docs/background-jobs.md). SQLite has a single writer, so it keeps progress on "default".
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    DATABASES["progress"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}
    if "postgresql" in DATABASES["default"]["ENGINE"]:
        # Progress is advisory: its commits need not wait for the WAL flush.
        _options = dict(DATABASES["default"].get("OPTIONS", {}))
        _options["options"] = f"{_options.get('options', '')} -c synchronous_commit=off".strip()
        DATABASES["progress"]["OPTIONS"] = _options
# Web processes (WSGI/ASGI) on PostgreSQL: any SQL statement running longer is cancelled, a
# backstop behind the GraphQL cost limit (backend/database.py); 0 turns it off.
DATABASE_STATEMENT_TIMEOUT = env.float("DATABASE_STATEMENT_TIMEOUT", default=30.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------
CACHE_URL = env.str("CACHE_URL", default="")
CACHES = {
    "default": env.cache_url_config(CACHE_URL)
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ledgerlink"}
}

# Django's model backend, with a user's own and group permissions read in one query.
AUTHENTICATION_BACKENDS = ["backend.django_internals.PermissionBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Static files (admin, GraphiQL, Swagger UI) are served by the app itself through WhiteNoise.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool("STATIC_MANIFEST", default=not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Sessions and security ----------------------------------------------------------
# The web tier keeps no state of its own: sessions live in the database (or the shared
# cache with SESSION_ENGINE=django.contrib.sessions.backends.cached_db), so app servers can be
# added behind a load balancer.
SESSION_ENGINE = env.str("SESSION_ENGINE", default="django.contrib.sessions.backends.db")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# The SPA reads the CSRF token from the csrftoken cookie, so that cookie stays readable by JS.
CSRF_COOKIE_HTTPONLY = False
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind a TLS-terminating proxy: SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https
_proxy_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
SECURE_PROXY_SSL_HEADER = tuple(_proxy_header) if len(_proxy_header) == 2 else None
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)

# --- Billing domain -------------------------------------------------------------------
# Orders are billable on the calendar date of close_date in this zone (docs/architecture.md, "Billable orders").
BILLING_TIME_ZONE = env.str("BILLING_TIME_ZONE", default="UTC")
# Order statuses are stored as given; these decide which are billable (compared trimmed and
# case-insensitively; docs/import-orders-format.md). An order without a close date is never billable.
BILLING_NEVER_BILLABLE_STATUSES = env.list("BILLING_NEVER_BILLABLE_STATUSES", default=["cancelled", "canceled"])
# When set, only these statuses are billable (besides never being one of the above); empty: any other status.
BILLING_BILLABLE_STATUSES = env.list("BILLING_BILLABLE_STATUSES", default=[])
# Who `generate_report` and `billing_run` record as a report's creator when --user is not given.
BILLING_SYSTEM_USERNAME = env.str("BILLING_SYSTEM_USERNAME", default="system")
# GraphQL returns exports inline (no streaming): larger reports are downloaded over REST.
INLINE_EXPORT_MAX_LINES = env.int("INLINE_EXPORT_MAX_LINES", default=50_000)
# The issuer printed at the top of every PDF statement: the warehouse's name, postal address
# (lines separated by ";") and contact (e-mail, phone).
BILLING_ISSUER_NAME = env.str("BILLING_ISSUER_NAME", default="LedgerLink Billing")
BILLING_ISSUER_ADDRESS = env.str("BILLING_ISSUER_ADDRESS", default="")
BILLING_ISSUER_CONTACT = env.str("BILLING_ISSUER_CONTACT", default="")
# Invoice lifecycle: numbers come from a gapless sequence per issuer (BILLING_ISSUER_ID) and kind;
# the formats take {year} (the issue year) and {number}.
BILLING_ISSUER_ID = env.str("BILLING_ISSUER_ID", default="default")
BILLING_INVOICE_NUMBER_FORMAT = env.str("BILLING_INVOICE_NUMBER_FORMAT", default="INV-{year}-{number:06d}")
BILLING_CREDIT_NOTE_NUMBER_FORMAT = env.str("BILLING_CREDIT_NOTE_NUMBER_FORMAT", default="CN-{year}-{number:06d}")
# Whether a customer-linked user sees its customers' draft (and superseded) reports; finalized and
# voided ones and credit notes are always visible. True keeps the generate-then-view flow of such users.
BILLING_CUSTOMERS_SEE_DRAFTS = env.bool("BILLING_CUSTOMERS_SEE_DRAFTS", default=True)
# Orders fetched and priced per chunk during report generation.
BILLING_GENERATION_CHUNK_SIZE = env.int("BILLING_GENERATION_CHUNK_SIZE", default=5000)

# --- Cross-origin frontend (legacy React SPA) -----------------------------------------
FRONTEND_ORIGINS = env.list("FRONTEND_ORIGINS", default=["http://localhost:5176"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=FRONTEND_ORIGINS)
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=FRONTEND_ORIGINS)
CORS_ALLOW_CREDENTIALS = True
CORS_URLS_REGEX = r"^/(api|graphql)/.*$"
# Headers the SPA may send cross-origin, and response headers its JavaScript may read.
CORS_ALLOW_HEADERS = (*cors_default_headers, "idempotency-key", "x-request-id")
CORS_EXPOSE_HEADERS = ["Content-Disposition", "Retry-After", "X-Request-ID", "X-Total-Count", "Idempotent-Replayed"]
# CSRF failures outside DRF views: the JSON error envelope for /api/ paths, Django's page elsewhere.
CSRF_FAILURE_VIEW = "rest_compat.errors.csrf_failure"

# --- Django REST framework (the legacy facade) ----------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First class decides the 401 challenge: a missing credential is 401 + WWW-Authenticate.
        "accounts.authentication.BearerAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "rest_compat.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": False,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Report generations per signed-in user, for REST and GraphQL together (billing/services/rate_limit.py):
# "N/s", "N/min", "N/hour" or "N/day"; empty: no limit.
GENERATE_RATE_LIMIT = env.str("GENERATE_RATE_LIMIT", default="30/min")

# The 201 of POST /api/v1/billing-v2/reports/generate/ carries at most this many orders (docs/rest-api.md).
LEGACY_GENERATE_MAX_ORDERS = env.int("LEGACY_GENERATE_MAX_ORDERS", default=1000)

# --- Sign-in (accounts/): the legacy SPA's JWTs, the browser sign-in page ---------------
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:login"
LOGOUT_REDIRECT_URL = "accounts:login"
# Failed sign-ins allowed per client IP and per username (DRF rate syntax; empty: no limit).
LOGIN_FAILURE_LIMIT = env.str("LOGIN_FAILURE_LIMIT", default="10/min")
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": dt.timedelta(minutes=env.int("JWT_ACCESS_TOKEN_MINUTES", default=5)),
    "REFRESH_TOKEN_LIFETIME": dt.timedelta(hours=env.int("JWT_REFRESH_TOKEN_HOURS", default=12)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "AUTH_TOKEN_CLASSES": ("accounts.tokens.RevocableAccessToken",),
    "TOKEN_OBTAIN_SERIALIZER": "accounts.tokens.SpaTokenObtainSerializer",
    "TOKEN_REFRESH_SERIALIZER": "accounts.tokens.SpaTokenRefreshSerializer",
    "UPDATE_LAST_LOGIN": True,
    # A password change ends the user's tokens.
    "CHECK_REVOKE_TOKEN": True,
}

# Swagger UI at /api/v2/docs/ (the schema at /api/v2/schema/ is always served to authenticated users).
SWAGGER_UI_ENABLED = env.bool("SWAGGER_UI_ENABLED", default=DEBUG)

SPECTACULAR_SETTINGS = {
    "TITLE": "LedgerLink Billing — REST facade (v2)",
    "DESCRIPTION": "The legacy /api/v2/reports/* endpoints used by the LedgerLink frontend.",
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "SuccessTrueEnum": [(True, True)],
        "SuccessFalseEnum": [(False, False)],
        "ErrorCodeEnum": "billing.errors.ErrorCode",
        "JobStatusEnum": "billing.models.JobStatus",
        "ReportStatusEnum": "billing.models.ReportStatus.values",
    },
}

# --- GraphQL --------------------------------------------------------------------------
GRAPHIQL_ENABLED = env.bool("GRAPHIQL_ENABLED", default=DEBUG)
# Who may introspect the GraphQL schema: all, authenticated or off (graphql_schema/introspection.py).
GRAPHQL_INTROSPECTION = env.str("GRAPHQL_INTROSPECTION", default="all" if DEBUG else "authenticated")
if GRAPHQL_INTROSPECTION not in ("all", "authenticated", "off"):
    raise ImproperlyConfigured(f"GRAPHQL_INTROSPECTION must be all, authenticated or off: {GRAPHQL_INTROSPECTION!r}")
# Largest estimated number of objects one GraphQL response may hold (page sizes multiplied down
# the tree, see graphql_schema/limits.py); 0 turns the check off.
GRAPHQL_MAX_COST = env.int("GRAPHQL_MAX_COST", default=10_000)
STRAWBERRY_DJANGO = {
    "FIELD_DESCRIPTION_FROM_HELP_TEXT": True,
    "TYPE_DESCRIPTION_FROM_MODEL_DOCSTRING": True,
    "MUTATIONS_DEFAULT_HANDLE_ERRORS": True,
}

# --- Celery (background generation) --------------------------------------------------
# No broker configured: tasks run in-process (eager), so nothing else is needed.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Redis/SQS redeliver a message that was not acknowledged within this time (a killed worker).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
# Idempotency keys (Idempotency-Key header, idempotencyKey input) are remembered this long.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
# Debug hook, off by default: seconds to sleep after each progress update of a report job, to
# make a job slow enough to watch or to interrupt (used by the worker crash test).
BILLING_JOB_PROGRESS_DELAY = env.float("BILLING_JOB_PROGRESS_DELAY", default=0.0)

# --- Logging --------------------------------------------------------------------------
# Servers (gunicorn, Celery workers) log JSON at INFO, one object per line, for log collectors.
# manage.py (the operators' commands, and runserver under `make run`) is read by a person at a
# terminal: text at WARNING by default. LOG_LEVEL and LOG_FORMAT override both.
_MANAGE_PY = Path(sys.argv[0]).name == "manage.py"
LOG_LEVEL = env.str("LOG_LEVEL", default="WARNING" if _MANAGE_PY else "INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if _MANAGE_PY else "json")  # json or text
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "backend.request_logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "backend.request_logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "backend.request_logging.ConsoleHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
        "discard": {"class": "logging.NullHandler"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # runserver's own per-request lines (django.server) duplicate ledgerlink.request: dropped.
        "django.server": {"handlers": ["discard"], "propagate": False},
        "django.request": {"level": "ERROR"},
    },
}
