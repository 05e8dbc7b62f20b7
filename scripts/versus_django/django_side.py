"""The Django side of `python -m bench --versus-django`; run by the separate
virtualenv's Python (Django, django-import-export, phonenumbers, psycopg), never by ours.

Copies the minimal project beside this file into a temp dir, creates its tables in the database it
is given, then does what the admin's import does with one file: preview (read the file,
`import_data(dry_run=True)`), then confirm (read it again, `import_data(dry_run=False)`), in one
process as a web server would. Prints one JSON document.
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent / "project"


def digest(users) -> str:
    """Of the created users' (email, country prefix, phone), to compare with ours."""
    lines = sorted(f"{email},{prefix},{phone or ''}" for email, prefix, phone in users)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", required=True)
    parser.add_argument("--database", required=True, help="JSON: Django's DATABASES['default']")
    parser.add_argument("--config", choices=("per-row", "bulk"), required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="versus-django-") as tmp:
        shutil.copytree(PROJECT, Path(tmp) / "project")
        sys.path.insert(0, str(Path(tmp) / "project"))
        os.environ["DJANGO_SETTINGS_MODULE"] = "versus_settings"
        os.environ["VERSUS_DJANGO_DB"] = args.database
        start = time.perf_counter()
        import django

        django.setup()
        import tablib
        from django.core.management import call_command
        from users.models import Company, User
        from users.resources import BulkUserResource, UserResource

        call_command("migrate", run_syncdb=True, verbosity=0)
        company = Company.objects.create(name="Bench", seats=10_000_000)
        setup_s = time.perf_counter() - start
        resource_class = BulkUserResource if args.config == "bulk" else UserResource
        steps = {}
        for step, dry_run in (("preview", True), ("import", False)):
            cpu = time.process_time()
            start = time.perf_counter()
            dataset = tablib.Dataset().load(Path(args.file).read_text(encoding="utf-8"), format="csv")
            loaded = time.perf_counter()
            result = resource_class(company.id).import_data(dataset, dry_run=dry_run)
            done = time.perf_counter()
            steps[step] = {
                "read_s": round(loaded - start, 3),
                "import_data_s": round(done - loaded, 3),
                "s": round(done - start, 3),
                "cpu_s": round(time.process_time() - cpu, 3),
                "new": result.totals["new"],
                "invalid": result.totals["invalid"],
                "error": result.totals["error"],
                "rolled_back": bool(result.has_errors()),
            }
        print(
            json.dumps(
                {
                    "config": args.config,
                    "django": django.get_version(),
                    "setup_s": round(setup_s, 3),
                    "preview": steps["preview"],
                    "import": steps["import"],
                    "total_s": round(steps["preview"]["s"] + steps["import"]["s"], 3),
                    "total_cpu_s": round(steps["preview"]["cpu_s"] + steps["import"]["cpu_s"], 3),
                    "created": User.objects.count(),
                    "created_digest": digest(User.objects.values_list("email", "country_prefix", "phone")),
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
