"""Settings of the test suite (not the demo's): SQLite files by default, PostgreSQL when
``DATABASE_URL`` is set; ``REDIS_URL`` for the rq and celery workers.

Worker processes the tests start read the same module (``DJANGO_SETTINGS_MODULE``), and
these environment variables point them at the tests' own databases and catalog folders:
``MIGRATOR_DB_NAME_<ALIAS>``, ``MIGRATOR_DIRS``, ``MIGRATOR_APP_DIRNAME``,
``MIGRATOR_DEFAULT_DATABASE``, ``MIGRATOR_STALE_AFTER_SECONDS``, ``MIGRATOR_BACKEND``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(
    os.environ.get("MIGRATOR_TEST_VAR_DIR", Path(tempfile.gettempdir()) / "migrator-tests")
)
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "simple_history",
    "django_rq",
    "migrator",
    # The demo's host app: its models and its catalog are what the demo tests exercise.
    "project.sample",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "project.urls"
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
            ]
        },
    }
]


def _database(url: str | None, name: str) -> dict[str, object]:
    override = os.environ.get(f"MIGRATOR_DB_NAME_{name.upper()}")
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": override or VAR_DIR / f"{name}.sqlite3",
            # Files, not memory, so that worker processes can share the test databases.
            "TEST": {"NAME": str(VAR_DIR / f"test_{name}.sqlite3")},
            # As the demo (and check W002) has it: WAL, writers queue for the lock.
            "OPTIONS": {
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL",
                "transaction_mode": "IMMEDIATE",
            },
        }
    parts = urlparse(url)
    database = parts.path.lstrip("/") or "migrator"
    if name != "default":
        database = f"{database}_{name}"
    return {
        "TEST": {"NAME": f"test_{database}"},
        "ENGINE": "django.db.backends.postgresql",
        "NAME": override or database,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": parts.port or 5432,
    }


DATABASE_URL = os.environ.get("DATABASE_URL")
DATABASES = {
    "default": _database(DATABASE_URL, "default"),
    "analytics": _database(DATABASE_URL, "analytics"),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}}
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"

MIGRATOR: dict[str, object] = {
    "BACKEND": os.environ.get("MIGRATOR_BACKEND", "thread"),
    "DIRS": [{"path": BASE_DIR / "project" / "analytics_migrations", "database": "analytics"}],
    "BACKUP_DIR": str(VAR_DIR / "backups"),
}
if os.environ.get("MIGRATOR_DIRS"):
    MIGRATOR["DIRS"] = os.environ["MIGRATOR_DIRS"].split(os.pathsep)
for _key in ("APP_DIRNAME", "DEFAULT_DATABASE"):
    if os.environ.get(f"MIGRATOR_{_key}"):
        MIGRATOR[_key] = os.environ[f"MIGRATOR_{_key}"]
if os.environ.get("MIGRATOR_GROUP_COMMIT_SECONDS"):
    MIGRATOR["GROUP_COMMIT_SECONDS"] = float(os.environ["MIGRATOR_GROUP_COMMIT_SECONDS"])
if os.environ.get("MIGRATOR_STALE_AFTER_SECONDS"):
    MIGRATOR["STALE_AFTER_SECONDS"] = float(os.environ["MIGRATOR_STALE_AFTER_SECONDS"])
    MIGRATOR["HEARTBEAT_SECONDS"] = float(os.environ["MIGRATOR_STALE_AFTER_SECONDS"]) / 4

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"migrator": {"handlers": ["console"], "level": "WARNING"}},
}
