"""Settings of the minimal Django project the versus-django benchmark builds in a temp dir.

The database comes from VERSUS_DJANGO_DB (JSON: Django's DATABASES["default"]), written by
django_side.py; SQLite gets the pragmas our own engine sets (bulk_upload_app/db.py: WAL,
synchronous=NORMAL) so neither side is slowed by a stricter journal.
"""

import json
import os

SECRET_KEY = "versus-django-benchmark"  # a throwaway project: nothing is signed
DEBUG = False  # with DEBUG on, Django keeps every query in memory
USE_TZ = True
INSTALLED_APPS = ["users", "import_export"]
DATABASES = {"default": json.loads(os.environ["VERSUS_DJANGO_DB"])}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
