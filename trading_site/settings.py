"""Settings, read from the environment with the one typed reader (``trading_site.lib.env``).

Two runtime modes (docs/ADRs/0001-runtime-modes.md):
- embedded (default, ``DJANGO_ENV=embedded``): SQLite under ``var/``, Celery over an atomic
  (write-then-rename) filesystem transport under ``var/``, file cache, simulated broker. No servers
  needed.
- production (``DJANGO_ENV=production``): ``SECRET_KEY``, ``DATABASE_URL`` and ``REDIS_URL`` are
  required, DEBUG is refused, the secure-cookie/HSTS settings are on.
Each value is validated at start-up; a bad value stops the process with ImproperlyConfigured.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from trading_site.lib import queues
from trading_site.lib.env import env_bool, env_float, env_int, env_list, env_str
from trading_site.secret_store.settings_bridge import load_settings_secrets

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DJANGO_ENV = env_str("DJANGO_ENV", "embedded")
if DJANGO_ENV not in ("embedded", "production", "test"):
    raise ImproperlyConfigured(f"DJANGO_ENV must be embedded, production or test, not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"

_DEV_SECRET_KEY = "embedded-mode-insecure-key-do-not-use-in-production"
DEBUG = env_bool("DEBUG", False)
# Secrets come from the secrets layer (SECRETS_BACKEND=env|file|vault|aws,
# docs/ADRs/0003-secrets-architecture.md); ordinary configuration stays in the environment.
_SECRETS = load_settings_secrets()
SECRET_KEY = _SECRETS.get("SECRET_KEY", "")
if PRODUCTION:
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off in production (DJANGO_ENV=production).")
    if not SECRET_KEY or SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured(
            "SECRET_KEY is required in production and must be at least 50 random characters."
        )
else:
    SECRET_KEY = SECRET_KEY or _DEV_SECRET_KEY

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required in production.")
# A wildcard host lets any Host header through (password-reset-style link poisoning, cache
# poisoning); production names its hosts unless the operator says otherwise, in so many words.
if PRODUCTION and any(h == "*" for h in ALLOWED_HOSTS) and not env_bool("ALLOWED_HOSTS_ALLOW_WILDCARD", False):
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS=* is refused in production: list the host names "
        "(or set ALLOWED_HOSTS_ALLOW_WILDCARD=true to force it)."
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
PORT = env_int("PORT", 8000)
if not 0 < PORT < 65536:
    raise ImproperlyConfigured(f"PORT must be between 1 and 65535, not {PORT}")
# gunicorn layout of `make run` (and the benchmarks): processes × threads. Process-per-request
# (threads 1) measured best on 2 cores: Python threads in one process contend for the GIL and
# stretch the latency tail (bench/bench_orders.py).
WEB_WORKERS = env_int("WEB_WORKERS", 4)
WEB_THREADS = env_int("WEB_THREADS", 1)
if not (1 <= WEB_WORKERS <= 64 and 1 <= WEB_THREADS <= 64):
    raise ImproperlyConfigured("WEB_WORKERS and WEB_THREADS must be between 1 and 64")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / ReDoc as our own static files: /api/docs/ works offline
    "django_celery_beat",
    "django_htmx",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "auditlog",
    # Our apps, from the ground floor up (docs/adr/0029-layers.md; .importlinter enforces the order).
    "trading_site.apps.TradingSiteConfig",
    "marketdata.apps.MarketDataConfig",
    "orders.apps.OrdersConfig",
    "risk.apps.RiskConfig",
    "tax.apps.TaxConfig",
    "strategies.apps.StrategiesConfig",
    "workflow.apps.WorkflowConfig",
    "console.apps.ConsoleConfig",
    "ops.apps.OpsConfig",
]

MIDDLEWARE = [
    "trading_site.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "csp.middleware.CSPMiddleware",
    "trading_site.middleware.LoginRequiredMiddleware",
    "marketdata.middleware.DemoMarketHeaderMiddleware",
]

ROOT_URLCONF = "trading_site.urls"
WSGI_APPLICATION = "trading_site.wsgi.application"

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
                "trading_site.lib.roles.role_context",
                "trading_site.context.platform_context",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'trading.sqlite3'}")
if PRODUCTION and DATABASE_URL.startswith("sqlite"):
    raise ImproperlyConfigured("Production needs PostgreSQL: set DATABASE_URL=postgres://...")
try:
    DATABASES = {"default": environ.Env.db_url_config(DATABASE_URL)}  # django-environ parses the URL
except Exception as exc:  # django-environ raises several types for malformed URLs
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from exc
if _SECRETS.get("DATABASE_PASSWORD"):
    DATABASES["default"]["PASSWORD"] = _SECRETS["DATABASE_PASSWORD"]
_engine = DATABASES["default"]["ENGINE"]
if _engine.endswith("sqlite3"):
    # Web, worker and beat share the file: WAL lets readers and one writer work concurrently,
    # IMMEDIATE transactions avoid lock upgrades failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif "postgresql" in _engine:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env_int("CONN_MAX_AGE", 60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    raise ImproperlyConfigured(f"DATABASE_URL must be PostgreSQL or SQLite, got engine {_engine}")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery ---------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://")
if PRODUCTION and not REDIS_URL:
    raise ImproperlyConfigured("Production needs Redis: set REDIS_URL=redis://...")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "trading"),
        }
    }
else:
    # Shared by the web, worker and beat processes of the embedded run.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_FILESYSTEM_DIR = VAR_DIR / "celery"
if REDIS_URL:
    # Longer than any task's hard time limit, so an unacked task is not redelivered while running.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    # The embedded transport: write-then-rename message files, so a reader never sees a torn one
    # (trading_site/celery_transport.py, docs/ADRs/0018-embedded-transport-and-supervision.md).
    from trading_site.celery_transport import transport_options as _embedded_transport_options

    CELERY_BROKER_TRANSPORT = "trading_site.celery_transport:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = _embedded_transport_options(CELERY_FILESYSTEM_DIR)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 600
CELERY_TASK_SOFT_TIME_LIMIT = 540
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = queues.DEFAULT
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "America/New_York"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "trading_site.beat.HeartbeatDatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Broker outages (Redis restarting): the worker reconnects for as long as it takes, never exits.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Seconds after which /healthz considers a loop (worker, beat, trade stream) dead or stuck. Each
# writes its heartbeat every 5 s, so a dead loop turns /healthz 503 within this many seconds.
HEARTBEAT_MAX_AGE = env_int("HEARTBEAT_MAX_AGE", 15)
if not 5 <= HEARTBEAT_MAX_AGE <= 3600:
    raise ImproperlyConfigured("HEARTBEAT_MAX_AGE must be between 5 and 3600 seconds")

# --- Trading configuration (non-secret) -------------------------------------------------------------
BROKER = env_str("BROKER", "simulated")
if BROKER not in ("simulated", "alpaca"):
    raise ImproperlyConfigured(f"BROKER must be simulated or alpaca, not {BROKER!r}")
ALPACA_PAPER = env_bool("ALPACA_PAPER", True)
SECRETS_BACKEND = env_str("SECRETS_BACKEND", "env")
if SECRETS_BACKEND not in ("env", "file", "vault", "aws"):
    raise ImproperlyConfigured(f"SECRETS_BACKEND must be env, file, vault or aws, not {SECRETS_BACKEND!r}")
SIM_MARKET_HOURS = env_str("SIM_MARKET_HOURS", "nyse")
if SIM_MARKET_HOURS not in ("always", "nyse"):
    raise ImproperlyConfigured(f"SIM_MARKET_HOURS must be always or nyse, not {SIM_MARKET_HOURS!r}")
# How the simulated exchange's trade updates (fills) reach the ledger: "stream" — the dedicated
# trade-stream process delivers them, as Alpaca's websocket does, and an order request returns at
# the exchange's acceptance; "inline" — the submitting request books them before it returns
# (replay, and the test suite's default). docs/CONCEPTS/execution.md.
SIM_FILL_DELIVERY = env_str("SIM_FILL_DELIVERY", "stream")
if SIM_FILL_DELIVERY not in ("stream", "inline"):
    raise ImproperlyConfigured(f"SIM_FILL_DELIVERY must be stream or inline, not {SIM_FILL_DELIVERY!r}")
# Demo fast mode: one demo trading day every N wall-clock minutes (0 = real time; docs/CONCEPTS/demo-market.md).
DEMO_DAY_MINUTES = env_float("DEMO_DAY_MINUTES", 0)
if not (DEMO_DAY_MINUTES == 0 or 0.5 <= DEMO_DAY_MINUTES <= 1440):
    raise ImproperlyConfigured(f"DEMO_DAY_MINUTES must be 0 or between 0.5 and 1440, not {DEMO_DAY_MINUTES}")
if DEMO_DAY_MINUTES and (DJANGO_ENV != "embedded" or BROKER != "simulated"):
    raise ImproperlyConfigured("DEMO_DAY_MINUTES is for the embedded demo market only (simulated broker)")

# --- Authentication ---------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_ADAPTER = "trading_site.auth.NoSignupAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_RATE_LIMITS = {
    # Failed logins per IP and per account (allauth keeps the counters in the shared cache).
    "login_failed": env_str("LOGIN_RATE_LIMIT", "10/m/ip,5/5m/key"),
}
# The real client address (login and token rate limits, audit): the number of reverse proxies under
# our control in front of the app. 0 (default): the TCP peer (REMOTE_ADDR) is the client and
# X-Forwarded-For is ignored — a client could otherwise pick its own address per request. Behind one
# proxy that appends to X-Forwarded-For (nginx, Caddy, a load balancer), 1. docs/RUNBOOKS/production.md.
NUM_PROXIES = env_int("NUM_PROXIES", 0)
if not 0 <= NUM_PROXIES <= 5:
    raise ImproperlyConfigured(f"NUM_PROXIES must be between 0 and 5, not {NUM_PROXIES}")
ALLAUTH_TRUSTED_PROXY_COUNT = NUM_PROXIES
# API tokens (trading_site/tokens.py): lifetime in days by default and at most, tokens per user.
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 30)
API_TOKEN_MAX_TTL_DAYS = env_int("API_TOKEN_MAX_TTL_DAYS", 365)
API_TOKENS_PER_USER = env_int("API_TOKENS_PER_USER", 20)
if not 1 <= API_TOKEN_TTL_DAYS <= API_TOKEN_MAX_TTL_DAYS <= 3650 or not 1 <= API_TOKENS_PER_USER <= 1000:
    raise ImproperlyConfigured(
        "API_TOKEN_TTL_DAYS must be between 1 and API_TOKEN_MAX_TTL_DAYS (at most 3650); "
        "API_TOKENS_PER_USER between 1 and 1000"
    )
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Trading Platform"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the <body> header attribute instead
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Paths reachable without login (everything else redirects to login or answers 401/403).
PUBLIC_PATHS = frozenset({"/accounts/login/", "/accounts/2fa/authenticate/", "/healthz", "/metrics"})
PUBLIC_PATH_PREFIXES = ("/static/", "/api/")
# No self-service password reset or sign-up: there is no mail delivery; admins create users and set
# passwords (create_user, the admin).
# /api/ is listed because DRF enforces its own authentication (401 JSON rather than a redirect).

# --- DRF -------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes anonymous API calls answer 401, not 403.
        "trading_site.api.authentication.AuditedTokenAuthentication",
        "trading_site.api.authentication.AuditedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["trading_site.api.permissions.RoleBasedPermission"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "trading_site.api.openapi.ProjectAutoSchema",
    "EXCEPTION_HANDLER": "trading_site.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Throttles key anonymous callers on the address NUM_PROXIES designates (DRF reads the whole,
    # client-supplied X-Forwarded-For when this is unset).
    "NUM_PROXIES": NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Trading Platform API",
    "DESCRIPTION": "Orders, positions, strategies, risk and tax for the trading platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from STATIC_URL (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several apps have "side"/"status" choice sets; name the order ledger's explicitly.
    "ENUM_NAME_OVERRIDES": {
        "OrderSideEnum": "orders.models.Side",
        "OrderStatusEnum": "orders.models.OrderStatus",
        "OrderTypeEnum": "orders.models.OrderType",
        "AlgoTypeEnum": [("twap", "twap")],
    },
}
# Requests larger than this are refused with 413 before any parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 256 * 1024)

# --- Auditlog --------------------------------------------------------------------------------------
AUDITLOG_DISABLE_REMOTE_ADDR = False
AUDITLOG_INCLUDE_ALL_MODELS = False

# --- Internationalisation and time -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"  # storage and default rendering; market logic uses America/New_York explicitly
USE_I18N = True
USE_TZ = True

# --- Static files ----------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
if not PRODUCTION:
    # The embedded run keeps its SQLite file, Celery queue, cache and static root here.
    for _sub in ("", "staticfiles", "media"):
        (VAR_DIR / _sub).mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(VAR_DIR / "media")}},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Security --------------------------------------------------------------------------------------
# Content-Security-Policy (django-csp; Django 5.2 has none of its own): scripts, styles, images and
# requests from this origin only — no inline script or style, no eval (the console's JavaScript and
# CSS are static files; htmx's inline indicator style and eval are switched off in base.html).
# The Swagger UI page (/api/docs/) is left out: drf-spectacular renders it with an inline script.
# docs/ADRs/0021-token-lifecycle-strict-input-csp.md.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/api/docs/"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Logging ---------------------------------------------------------------------------------------
LOG_FORMAT = env_str("LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
# Leave Celery's INFO lines about the every-second tasks (TWAP dispatch, sim tick, heartbeat) out of
# the log. `make run` (run_platform) turns it on for its children, so its terminal stays readable.
LOG_QUIET_FREQUENT_TASKS = env_bool("LOG_QUIET_FREQUENT_TASKS", False)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "trading_site.logging.RequestIdFilter"},
        "request_log": {"()": "trading_site.logging.RequestLogFilter"},
        "frequent_tasks": {"()": "trading_site.logging.FrequentTaskFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "trading_site.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "request_log", *(["frequent_tasks"] if LOG_QUIET_FREQUENT_TASKS else [])],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": "INFO"},
    },
}
