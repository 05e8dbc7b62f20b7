"""A company's set-up: `company create`, its `api-key`s and its `scim-settings`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bulk_upload_app.cli.arguments import _actor, _parse_skill
from bulk_upload_app.cli.output import EXIT_BAD_ARGUMENTS, _emit, _fail, _refuse
from bulk_upload_app.uploads.batch import BatchProblem


def cmd_company_create(args: argparse.Namespace) -> int:
    from bulk_upload_app.services import operations

    if args.seats < 0:
        return _fail(BatchProblem("--seats must be 0 or more."), args.json, EXIT_BAD_ARGUMENTS)
    company_id = operations.create_company(args.name, args.seats)
    _emit({"id": company_id}, args.json, str(company_id))
    return 0


def cmd_api_key_create(args: argparse.Namespace) -> int:
    from bulk_upload_app.services import api_keys

    try:
        key_id, key = api_keys.create_key(args.company, args.name, created_by=_actor())
    except api_keys.ApiKeyProblem as exc:
        return _fail(BatchProblem(str(exc)), args.json, EXIT_BAD_ARGUMENTS)
    print("Keep this key now: it is stored hashed and cannot be shown again.", file=sys.stderr)
    _emit({"id": key_id, "key": key}, args.json, f"{key_id} {key}")
    return 0


def cmd_api_key_list(args: argparse.Namespace) -> int:
    from bulk_upload_app.services import api_keys

    keys = api_keys.list_keys(args.company)

    def when(moment: Any) -> str | None:
        return moment.isoformat() if moment is not None else None

    document = [
        {
            "id": k.id,
            "name": k.name,
            "prefix": k.prefix,
            "created_at": when(k.created_at),
            "created_by": k.created_by,
            "last_used_at": when(k.last_used_at),
            "revoked_at": when(k.revoked_at),
        }
        for k in keys
    ]
    human = "\n".join(
        f"{k.id} {k.prefix}… {k.name!r} created {k.created_at:%Y-%m-%d} by {k.created_by or '?'}"
        + (f", revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "")
        for k in keys
    )
    _emit(document, args.json, human or "No API keys yet.")
    return 0


def cmd_api_key_revoke(args: argparse.Namespace) -> int:
    from bulk_upload_app.services import api_keys

    try:
        api_keys.revoke_key(args.company, args.key_id, revoked_by=_actor())
    except api_keys.ApiKeyNotFound:
        return _refuse({"code": "API_KEY_NOT_FOUND", "message": "This company has no API key with that id."}, args.json)
    _emit({"id": args.key_id, "revoked": True}, args.json, f"{args.key_id} revoked.")
    return 0


def cmd_scim_settings(args: argparse.Namespace) -> int:
    """Show the company's SCIM defaults, or set them when any option is given."""
    from bulk_upload_app.services import scim

    changing = args.user_type or args.country_prefix or args.group or args.outbound_number or args.skill
    try:
        if changing or args.settings_from:
            current = scim.scim_defaults(args.company)
            chosen = scim.set_scim_defaults(
                args.company,
                user_type=args.user_type or current.user_type,
                country_prefix=args.country_prefix or current.country_prefix,
                group_names=args.group,
                outbound_numbers=args.outbound_number,
                skills=[_parse_skill(s) for s in args.skill],
                settings_from_email=args.settings_from,
                actor=_actor(),
            )
        else:
            chosen = scim.scim_defaults(args.company)
    except BatchProblem as exc:
        return _fail(exc, args.json, EXIT_BAD_ARGUMENTS)
    document = {"user_type": chosen.user_type, "country_prefix": chosen.country_prefix, "batch": chosen.spec.to_json()}
    human = (
        f"SCIM users are created as {chosen.user_type} users; without a phone number their country prefix is "
        f"{chosen.country_prefix}; batch: {json.dumps(chosen.spec.to_json())}"
    )
    _emit(document, args.json, human)
    return 0
