"""Upload a users file through the import API, wait for it to be checked, show the rows to fix,
and create the users: the whole flow of the README's "HTTP API" section, in Python with httpx.

    export BULK_UPLOAD_API_KEY=bu_live_...        # bulk-upload api-key create --company ID --name NAME --json
    python examples/api/client.py users.csv [--url http://localhost:8000] [--user-type agent]
        [--group Sales] [--skill Spanish:3] [--create] [--failed-rows failed.csv]

Exit 0 when the users were created (or, without --create, when the file was checked), 1 when
the file or the seats stopped it, 2 on a usage problem. Every POST carries an Idempotency-Key,
so running the script again after a network error never uploads or creates twice.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import uuid
from pathlib import Path

import httpx


def wait(http: httpx.Client, location: str, *, until_not: tuple[str, ...]) -> dict:
    """Poll the upload as the server asks (Retry-After) until its status leaves `until_not`."""
    while True:
        answer = http.get(location)
        answer.raise_for_status()
        upload = answer.json()
        creating_soon = upload["create_requested"] and upload["status"] == "draft" and not upload["problem"]
        if upload["status"] not in until_not and not (creating_soon and upload["step"] != "match"):
            return upload
        progress = upload["progress"]
        print(f"  {upload['status']}: {progress['judged']:,}/{progress['total']:,} rows judged", file=sys.stderr)
        time.sleep(float(answer.headers.get("Retry-After", "2")))


def every_row(http: httpx.Client, location: str, result: str) -> list[dict]:
    rows, cursor = [], ""
    while True:
        page = http.get(f"{location}/rows", params={"result": result, "cursor": cursor, "limit": 1000}).json()
        rows += page["data"]
        if page["next_cursor"] is None:
            return rows
        cursor = page["next_cursor"]


def problem_text(answer: httpx.Response) -> str:
    if answer.headers.get("content-type") == "application/problem+json":
        problem = answer.json()
        return f"{problem['code']}: {problem['detail']}"
    return f"HTTP {answer.status_code}: {answer.text[:200]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--url", default=os.environ.get("BULK_UPLOAD_URL", "http://localhost:8000"))
    parser.add_argument("--user-type", default="agent")
    parser.add_argument("--group", action="append", default=[])
    parser.add_argument("--skill", action="append", default=[], metavar="NAME:LEVEL")
    parser.add_argument("--create", action="store_true", help="create the valid rows' users once checked")
    parser.add_argument("--failed-rows", type=Path, help="write the rows not created to this CSV")
    args = parser.parse_args(argv)
    key = os.environ.get("BULK_UPLOAD_API_KEY")
    if not key:
        print("Set BULK_UPLOAD_API_KEY (bulk-upload api-key create --company ID --name NAME --json).", file=sys.stderr)
        return 2
    skills = []
    for item in args.skill:
        name, _, level = item.rpartition(":")
        skills.append({"name": name, "level": int(level)})
    settings = {"groups": args.group, "skills": skills}

    with httpx.Client(base_url=args.url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
        with args.file.open("rb") as body:
            started = http.post(
                "/api/v1/user-imports",
                headers={"Idempotency-Key": f"upload-{uuid.uuid4()}"},
                files={"file": (args.file.name, body)},
                data={"user_type": args.user_type, "settings": json.dumps(settings)},
            )
        if started.status_code != 202:
            print(problem_text(started), file=sys.stderr)
            return 1
        location = started.headers["Location"]
        print(f"uploaded: {location}", file=sys.stderr)
        upload = wait(http, location, until_not=("processing",))
        if upload["status"] == "failed":
            print(f"{upload['problem']['code']}: {upload['problem']['message']}", file=sys.stderr)
            return 1
        if upload["step"] == "match":
            print(f"The columns need matching: open {upload['links']['wizard']}", file=sys.stderr)
            return 1
        counts = upload["counts"]
        print(f"checked: {counts['rows']:,} rows, {counts['valid']:,} valid, {counts['invalid']:,} with errors")
        for row in every_row(http, location, "invalid")[:20]:
            print(f"  row {row['row']}: " + "; ".join(f"{e['column']}: {e['message']}" for e in row["errors"]))
        if args.create:
            created = http.post(f"{location}/create", headers={"Idempotency-Key": f"create-{upload['id']}"})
            if created.status_code != 202:
                print(problem_text(created), file=sys.stderr)  # SEATS_EXCEEDED names what to buy, and where
                return 1
            upload = wait(http, location, until_not=("processing", "creating"))
            if upload["problem"]:
                print(f"{upload['problem']['code']}: {upload['problem']['message']}", file=sys.stderr)
                return 1
            print(f"created: {upload['counts']['created']:,} users ({upload['counts']['failed']:,} failed)")
        if args.failed_rows:
            rows = every_row(http, location, "invalid") + every_row(http, location, "failed")
            with args.failed_rows.open("w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(["row", *(rows[0]["values"] if rows else []), "errors"])
                for row in sorted(rows, key=lambda r: r["row"]):
                    errors = " ".join(f"[{e['code']}] {e['message']}" for e in row["errors"])
                    writer.writerow([row["row"], *row["values"].values(), errors])
            print(f"rows not created: {args.failed_rows}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
