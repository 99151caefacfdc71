"""LabelForce settings, read from the environment.

Secure by default: DEBUG is off unless DJANGO_DEBUG=1, SECRET_KEY is required unless DEBUG is on,
and ALLOWED_HOSTS is explicit. The embedded defaults (a SQLite file, Celery tasks run eagerly
in-process) exist for the demo; production sets DATABASE_URL and CELERY_BROKER_URL.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set unless DJANGO_DEBUG=1.")
    SECRET_KEY = "insecure-development-key-only-used-with-DJANGO_DEBUG"  # noqa: S105

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "import_export",
    "django_celery_beat",
    "axes",
    "workforce",
    "qc",
    "assignments",
    "payments",
    "demo",
    "health",
    "notifications",
    "operations",
    "labeler_pages",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A view that finds the database down answers 503 with Retry-After, not 500.
    "health.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Under /labeler/ only: the labeler's chosen language, else their profile's, else the
    # browser's. The admin and the API stay in English.
    "labeler_pages.middleware.LabelerLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a login it refused into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
# Under /api/, a CSRF rejection in the API's one error shape (config/api.py).
CSRF_FAILURE_VIEW = "config.api.json_csrf_failure"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
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

# Database: a SQLite file for the demo unless DATABASE_URL says otherwise.
DATABASES = {
    "default": env.db(
        "DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'labelforce.sqlite3'}"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo serves one writer at a time; wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# The hot path's fixed statements (next task, submit, the token) as server-side prepared
# statements on PostgreSQL (config.rawsql.prepared_cursor): psycopg prepares one on a connection
# after prepare_threshold uses. The ORM's cursors bind on the client and never prepare. Turn off
# behind a pooler that cannot keep prepared statements (PgBouncer in transaction mode, < 1.21).
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
if IS_POSTGRES and DB_PREPARED_STATEMENTS:
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "workforce.User"

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out client before any password is checked (see below).
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, loading the labeler profile with the user (one query per page).
    "config.authentication.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# No anonymous user row: anonymous requests are simply unauthenticated.
ANONYMOUS_USER_NAME = None
GUARDIAN_MONKEY_PATCH_USER = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The languages of the labeler pages (catalogue in locale/); the admin and the API speak English.
LANGUAGES = [("en", "English"), ("pt-pt", "Português (Portugal)")]
# One catalogue for the whole project (`make messages` rebuilds it; tests/labeler_pages/
# test_translations.py checks that it is complete and compiled).
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Sign-in for people (the labeler pages); the admin keeps its own login page.
LOGIN_URL = "labeler:login"
LOGIN_REDIRECT_URL = "labeler:home"
LOGOUT_REDIRECT_URL = "labeler:login"
# How long an invitation link and a password-reset link stay usable.
INVITATION_DAYS = env.int("INVITATION_DAYS", default=7)
# The review queue takes what a decision is worth (lowest consensus confidence first), but a
# review older than this many hours goes first, oldest first, so nothing waits forever.
REVIEW_AGE_CAP_HOURS = env.float("REVIEW_AGE_CAP_HOURS", default=48.0)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_SECONDS", default=3 * 24 * 3600)

# Mail (password resets, invitations): printed to the console in the demo, SMTP from EMAIL_URL
# (django-environ's smtp://user:password@host:port form) elsewhere.
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = env.str(
        "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
    )
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="LabelForce <noreply@localhost>")

# Notifications (docs/notifications.md). SITE_URL, if set, is the site's address put in e-mails'
# links (e.g. https://labelforce.example.com). Outgoing webhooks call vendors' URLs: private,
# loopback and link-local addresses are refused unless WEBHOOK_ALLOW_PRIVATE=1 (the tests and a
# demo whose receiver runs on localhost); each attempt gives up after WEBHOOK_TIMEOUT_SECONDS.
SITE_URL = env.str("SITE_URL", default="")
# Default on with DEBUG: `make demo`'s webhook goes to its own receiver on 127.0.0.1.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=DEBUG)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)

# Security. Everything is on unless DEBUG is; a deployment behind a TLS-terminating proxy sets
# SECURE_PROXY_SSL_HEADER through DJANGO_BEHIND_TLS_PROXY=1.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Login throttling (django-axes), for every login: the admin, POST /api/v1/auth/token/ and any
# Django login view. LOGIN_FAILURE_LIMIT failed logins lock the client out for
# LOGIN_LOCKOUT_MINUTES, counted from the latest attempt (a further attempt restarts it); the
# locked-out client gets a 429 with Retry-After (config.authentication.lockout_response). What is
# counted together is LOGIN_LOCKOUT_PARAMETERS: alternatives separated by commas, each a "+"-joined
# combination of username, ip_address, user_agent. The default, username+ip_address, stops
# guessing one account's password without letting a stranger lock a whole office that shares one
# address out; add ",ip_address" to also cap failures per address. Behind a reverse proxy set
# TRUSTED_PROXY_COUNT to the number of proxies that append to CLIENT_IP_HEADER; with the default 0
# the client's address is REMOTE_ADDR and no header a client sends is believed.
AXES_ENABLED = env.bool("LOGIN_THROTTLING", default=True)
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [
    alternative.split("+") if "+" in alternative else alternative
    for alternative in env.list("LOGIN_LOCKOUT_PARAMETERS", default=["username+ip_address"])
]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.authentication.lockout_response"
AXES_CLIENT_IP_CALLABLE = "config.authentication.client_ip"
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
CLIENT_IP_HEADER = env.str("CLIENT_IP_HEADER", default="HTTP_X_FORWARDED_FOR")

# Celery: without a broker, tasks run eagerly in-process (the demo and the test suite).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# The database scheduler, except that it never writes the settings over what ops edited in the
# admin: it only adds missing entries, as migrate does (health.schedules).
CELERY_BEAT_SCHEDULER = "health.schedules:CreateOnlyDatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing gives up fast when the broker is down: a submit's after-commit message costs at
# most about CELERY_PUBLISH_TIMEOUT — two attempts (the second reconnects a pooled connection
# the broker dropped), each bounded by half of it for connecting and for reading the reply —
# instead of Celery's default policy (three retries 0.2 s apart: 0.6 s per submit, and no
# bound at all on a broker that accepts but does not answer). The sweeps below catch what was
# not sent. A worker on a slow network may raise CELERY_BROKER_SOCKET_TIMEOUT in its own
# environment; it reconnects by itself either way. 0.25 s, not less: at 0.1 s the drills
# (BENCHMARKS.md) saw publishes to a healthy Redis dropped on a machine starved of CPU.
CELERY_PUBLISH_TIMEOUT = env.float("CELERY_PUBLISH_TIMEOUT", default=0.25)
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0,
    "interval_max": 0,
}
CELERY_BROKER_CONNECTION_TIMEOUT = CELERY_PUBLISH_TIMEOUT / 2
# The longest task (quality_refit over every active project) must end within the time limit,
# and a message a killed worker held comes back after the visibility timeout (Redis), which
# must exceed the time limit (or a long task would run twice) and the longest retry backoff
# (config.celery), and is otherwise as short as that allows (Redis's default is an hour).
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=900)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
CELERY_VISIBILITY_TIMEOUT = env.int(
    "CELERY_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 300
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "socket_connect_timeout": CELERY_PUBLISH_TIMEOUT / 2,
    "socket_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=CELERY_PUBLISH_TIMEOUT / 2),
    "retry_on_timeout": False,
}
# A worker that dies mid-task leaves its message unacknowledged, to be redelivered.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# The socket timeout above bounds a submit's publish; a worker's consumer must not drop its
# connection over a slow read (on a machine short of CPU, a read of a batch of messages can take
# longer than 0.125 s: the messages it held would wait for the visibility timeout). Workers
# take this one instead (config.celery, at worker start).
CELERY_WORKER_SOCKET_TIMEOUT = env.float("CELERY_WORKER_SOCKET_TIMEOUT", default=10.0)
# The follow-up of submissions (assignments.assignment_submitted, one message per submit) is
# taken in batches by the worker: up to FOLLOW_UP_BATCH messages, or what came within
# FOLLOW_UP_BATCH_SECONDS, followed up together (BENCHMARKS.md, "Where a label's CPU goes"). The
# worker may hold that many unacknowledged messages only if its prefetch allows it: the
# multiplier (times the worker's concurrency) must exceed the batch, and more than twice it
# lets the next batch gather while one runs.
FOLLOW_UP_BATCH = env.int("FOLLOW_UP_BATCH", default=50)
FOLLOW_UP_BATCH_SECONDS = env.float("FOLLOW_UP_BATCH_SECONDS", default=0.2)
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int(
    "CELERY_WORKER_PREFETCH_MULTIPLIER", default=3 * FOLLOW_UP_BATCH
)


def _every(task: str, setting: str, seconds: float) -> dict:
    """A beat entry running ``task`` every ``seconds``, or as often as the ``setting`` says."""
    return {"task": task, "schedule": env.float(setting, default=seconds)}


# Periodic jobs: every task marked periodic=True (config.celery) has its entry here, and a test
# holds the two together. Every entry is a row of django-celery-beat's tables after migrate
# (health.schedules; editable in the admin, never overwritten from here afterwards). What each
# catches: docs/architecture.md, "Background jobs".
CELERY_BEAT_SCHEDULE = {
    "consensus-sweep": _every("assignments.consensus_sweep", "CONSENSUS_SWEEP_SECONDS", 300.0),
    "control-answers-sweep": _every(
        "assignments.control_answers_sweep", "CONTROL_SWEEP_SECONDS", 300.0
    ),
    "leases-expire": _every("assignments.leases_expire", "LEASES_EXPIRE_SECONDS", 600.0),
    "quiz-attempts-end-overdue": _every(
        "qc.quiz_attempts_end_overdue", "QUIZ_OVERDUE_SECONDS", 60.0
    ),
    # Mondays at 12:00 UTC: the previous week (Monday 00:00 in each project's time zone) has
    # ended in every zone by then.
    "audit-sample-weekly": {
        "task": "assignments.audit_sample_weekly",
        "schedule": crontab(minute=0, hour=12, day_of_week=1),
    },
    "quality-refit": _every("assignments.quality_refit", "QUALITY_REFIT_SECONDS", 3600.0),
    "quality-rules-sweep": _every(
        "assignments.quality_rules_sweep", "QUALITY_RULES_SWEEP_SECONDS", 3600.0
    ),
    "gold-reviews-open": _every("assignments.gold_reviews_open", "GOLD_REVIEWS_SECONDS", 60.0),
    "drift-sweep": _every("assignments.drift_sweep", "DRIFT_SWEEP_SECONDS", 900.0),
    "control-rates-rebuild": {
        "task": "assignments.control_rates_rebuild",
        "schedule": crontab(minute=30, hour=2),
    },
    "webhook-retry-sweep": _every(
        "notifications.webhook_retry_sweep", "WEBHOOK_RETRY_SWEEP_SECONDS", 60.0
    ),
    "email-sweep": _every("notifications.email_sweep", "EMAIL_SWEEP_SECONDS", 300.0),
    "qualification-expiry-notify": {
        "task": "notifications.qualification_expiry_notify",
        "schedule": crontab(minute=0, hour=6),
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["config.api.FilterBackend"],
    # DRF's own JSON and form parsers ignore DATA_UPLOAD_MAX_MEMORY_SIZE; these enforce it.
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",
        "config.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.api.CursorPage",
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": (
        ["rest_framework.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"]
    ),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "LabelForce API",
    "DESCRIPTION": (
        "The workforce back office of a data-labeling operation: the vendor portal and the "
        "labeler API. Authenticate with `Authorization: Token <key>` from "
        "`POST /api/v1/auth/token/`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation's error responses in the one error shape (config/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.document_errors",
    ],
    "ENUM_NAME_OVERRIDES": {
        "LabelerStatusEnum": "workforce.models.Labeler.Status",
        "VendorStatusEnum": "workforce.models.Vendor.Status",
        "LabelerKindEnum": "workforce.models.Labeler.Kind",
        "GuideVersionStatusEnum": "qc.models.GuideVersion.Status",
        "GoldItemStatusEnum": "qc.models.GoldItem.Status",
        "QuizKindEnum": "qc.models.Quiz.Kind",
        "QuizAttemptStatusEnum": "qc.models.QuizAttempt.Status",
        "ProjectStatusEnum": "assignments.models.Project.Status",
        "TaskStateEnum": "assignments.models.Task.State",
        "AssignmentStatusEnum": "assignments.models.Assignment.Status",
        "ReviewKindEnum": "assignments.models.Review.Kind",
        "ReviewStatusEnum": "assignments.models.Review.Status",
        "ConsensusMethodEnum": "assignments.models.ConsensusMethod",
        "QualityRuleActionEnum": "qc.models.QualityRule.Action",
        "RuleFiringStatusEnum": "qc.models.RuleFiring.Status",
        "GoldCheckContestEnum": "qc.models.GoldCheck.Contest",
        "PayRateUnitEnum": "payments.models.PayRate.Unit",
        "PayRateScopeEnum": "payments.models.PayRate.Scope",
        "PayPeriodCadenceEnum": "payments.models.PayPeriod.Cadence",
        "PayPeriodStatusEnum": "payments.models.PayPeriod.Status",
        "CalculationStatusEnum": "payments.models.Calculation.Status",
        "LedgerLineKindEnum": "payments.models.LedgerLine.Kind",
        "LedgerLineBasisEnum": "payments.models.LedgerLine.Basis",
        "PaidItemKindEnum": "payments.models.PaidItem.Kind",
        "WebhookDeliveryStatusEnum": "notifications.models.WebhookDelivery.Status",
        "NotificationEventEnum": "notifications.models.Event",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}

# django-import-export: an import runs in one transaction (LabelerResource also rolls the whole
# file back when any row fails); importing needs the model's add permission, exporting its view
# permission. The confirm step reads the upload back from a temporary file on the local disk.
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
# Formula injection: every resource escapes its text cells itself (config.exports, an apostrophe
# before a leading = + - @ tab or CR; LabelerResource.export_resource). The package's own switch
# is on as a backstop for any future resource, though in this version it only drops a leading
# "=" and so is not enough on its own.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True
