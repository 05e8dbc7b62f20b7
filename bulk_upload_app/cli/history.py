"""A company's uploads afterwards: `history`, `undo` and `audit` (what happened to one upload)."""

from __future__ import annotations

import argparse

from bulk_upload_app.cli.arguments import _actor
from bulk_upload_app.cli.output import _emit, _refuse
from bulk_upload_app.errors import ErrorCode, UndoRefused, UploadNotFound, message_for


def cmd_history(args: argparse.Namespace) -> int:
    from bulk_upload_app.services import history

    lines = history.history_all(args.company)
    document = [
        {
            "id": line.id,
            "file_name": line.file_name,
            "status": line.status,
            "source": line.source,
            "rows": line.rows,
            "created": line.created,
            "failed": line.failed,
            "created_at": line.created_at.isoformat(),
        }
        for line in lines
    ]
    human = "\n".join(
        f"{line.created_at:%Y-%m-%d %H:%M} {line.id} {line.status_label}: {line.file_name} ({line.source}), "
        f"{line.rows} rows, {line.created} created, {line.failed} failed"
        for line in lines
    )
    _emit(document, args.json, human or "No bulk uploads yet.")
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    from bulk_upload_app.services import history

    try:
        if args.dry_run:
            plan = history.undo_preview(args.company, args.upload_id)
        else:
            plan = history.undo_upload(args.company, args.upload_id, actor=_actor())
    except UploadNotFound:
        error = {"code": ErrorCode.UPLOAD_NOT_FOUND.value, "message": message_for(ErrorCode.UPLOAD_NOT_FOUND)}
        return _refuse(error, args.json)
    except UndoRefused as exc:
        return _refuse(exc.as_dict(), args.json)
    document = plan.as_dict()
    verb = "would remove" if args.dry_run and not plan.done else "removed"
    human = "\n".join(
        [
            f"{plan.upload_id}: {verb} {plan.removed} users; {len(plan.kept)} kept ({plan.status}).",
            *(f"kept {k.email}: {k.reason}" for k in plan.kept),
        ]
    )
    _emit(document, args.json, human)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from bulk_upload_app.services import operations

    story = operations.upload_story(args.upload_id)
    _emit({"upload_id": args.upload_id, "story": story}, args.json, "\n".join(story))
    return 0
