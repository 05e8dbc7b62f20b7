# mypy: disable-error-code="attr-defined"
# (SQLModel tables' __table__, as in the modules listed in pyproject's mypy overrides)
"""The email an uploader gets when a batch finishes, and sending it over SMTP.

The message: a subject with the file name and the outcome; a plain-text and a simple HTML body
with the counts, the failed rows summed up by error code (the messages of errors.py, as
stored on the rows), and a link to the upload's page; the failed rows as an XLSX attachment, the
same file as the result page's "Download failed rows (Excel)", or above
BULK_UPLOAD_MAIL_ATTACHMENT_MAX_KB a link to that page instead. Every value from the uploaded
file is escaped (HTML) or stripped of line breaks (headers): a file name is hostile input too.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bulk_upload_app import routes
from bulk_upload_app.db import session_scope
from bulk_upload_app.delivery.sending import NO_MAIL_SERVER, Claimed, DeliveryFailed, NotDelivered
from bulk_upload_app.models import BulkUpload, BulkUploadRow
from bulk_upload_app.settings import Settings, SmtpServer
from bulk_upload_app.statuses import RowOutcome
from bulk_upload_app.uploads.records import failed_rows
from bulk_upload_app.uploads.report import report_lines_xlsx, report_rows

XLSX_MIME = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
SMTP_TIMEOUT_SECONDS = 30.0  # per socket operation; far below the outbox lease (see outbox.py)
SUBJECT_FILE_NAME_CHARS = 80
# A failed row takes about 40 bytes of the compressed workbook (10,000 rows: 390 KB, 50,000: 1.9 MB);
# at 20 bytes a row, more rows than limit / 20 cannot fit, so they are never loaded to try: the
# summary is then counted row by row from the database (a million failed rows stay out of memory).
MIN_XLSX_BYTES_PER_ROW = 20

OUTCOME_SENTENCES = {
    "created": "All users were created.",
    "created_with_failures": "Some rows could not be created; why is summed up below.",
    "interrupted": "Creating users stopped before the end. The users added so far are kept; "
    "open the upload and select Resume to create the rest.",
    "cancelled": "The upload was cancelled. The users added before are kept.",
}


@dataclass(frozen=True)
class CodeSummary:
    code: str
    rows: int
    example: str  # the message of its first row, e.g. "x@example.com is already in use. ..."


@dataclass(frozen=True)
class BatchMail:
    """What the email says, gathered from the outbox row and the upload's rows."""

    upload_id: str
    file_name: str
    status: str  # a STATUS_LABELS key
    status_label: str
    total_rows: int
    created: int
    failed_rows: list[list[Any]]  # report_rows: one line per failed row, as in the attachment; [] when too many
    failed_count: int  # the failed rows, or the count kept once the rows were purged
    by_code: list[CodeSummary]
    upload_url: str
    rows_purged: bool


def one_line(text: str, limit: int) -> str:
    """`text` safe in a header: control characters out, at most `limit` characters."""
    clean = "".join(c if c.isprintable() else " " for c in text).strip()
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def summarise(failed: list[dict[str, Any]]) -> list[CodeSummary]:
    """Failed rows per error code, most frequent first; a row with two codes counts for each."""
    rows: dict[str, set[int]] = {}
    example: dict[str, str] = {}
    for item in failed:
        code = str(item.get("code") or "UNKNOWN")
        rows.setdefault(code, set()).add(int(item["row"]))
        example.setdefault(code, str(item.get("message") or ""))
    return sorted(
        (CodeSummary(code, len(found), example[code]) for code, found in rows.items()), key=lambda s: (-s.rows, s.code)
    )


def _failed_condition(upload_id: str):
    """The rows `records.failed_rows` reports: failed when created, or never valid."""
    row = BulkUploadRow.__table__.c
    return and_(
        row.upload_id == upload_id,
        or_(row.outcome == RowOutcome.FAILED, and_(row.outcome == RowOutcome.PENDING, row.is_valid.is_(False))),
    )


def failed_row_count(session: Session, upload_id: str) -> int:
    return session.execute(select(func.count()).where(_failed_condition(upload_id))).scalar_one()


def summarise_streamed(session: Session, upload_id: str) -> list[CodeSummary]:
    """`summarise` for any number of failed rows: read in batches, nothing kept but the counts."""
    row = BulkUploadRow.__table__.c
    query = (
        select(row.outcome, row.outcome_code, row.outcome_message, row.errors)
        .where(_failed_condition(upload_id))
        .order_by(row.row_number)  # the examples are the first rows', as summarise gives them
        .execution_options(yield_per=5000)
    )
    counts: dict[str, int] = {}
    example: dict[str, str] = {}
    for found in session.execute(query):
        if found.outcome == RowOutcome.FAILED:
            items = [(found.outcome_code, found.outcome_message)]
        else:
            items = [(e.get("code"), e.get("message")) for e in found.errors or []]
        seen: set[str] = set()
        for code, message in items:
            key = str(code or "UNKNOWN")
            if key in seen:
                continue  # a row counts once per code
            seen.add(key)
            counts[key] = counts.get(key, 0) + 1
            example.setdefault(key, str(message or ""))
    return sorted((CodeSummary(c, n, example[c]) for c, n in counts.items()), key=lambda s: (-s.rows, s.code))


def gather(engine: Engine, claimed: Claimed, settings: Settings) -> BatchMail:
    payload = claimed.payload
    with session_scope(engine, read_only=True) as session:
        upload = session.get(BulkUpload, claimed.upload_id)
        if upload is None or upload.company_id != claimed.company_id:
            raise DeliveryFailed("the upload no longer exists", permanent=True)
        purged = upload.rows_purged_at is not None
        count = failed_row_count(session, upload.id)
        if count * MIN_XLSX_BYTES_PER_ROW > settings.mail_attachment_max_bytes:
            lines, by_code = [], summarise_streamed(session, upload.id)
        else:
            failed = failed_rows(session, upload.id)
            lines, by_code = report_rows(failed), summarise(failed)
    return BatchMail(
        upload_id=claimed.upload_id,
        file_name=str(payload.get("file_name") or upload.file_name or "your file"),
        status=str(payload.get("status") or ""),
        status_label=str(payload.get("status_label") or ""),
        total_rows=int(payload.get("total_rows") or 0),
        created=int(payload.get("created") or 0),
        failed_rows=lines,
        failed_count=count if not purged else int(payload.get("failed") or 0),
        by_code=by_code,
        upload_url=f"{settings.public_url}{routes.draft(claimed.upload_id)}",
        rows_purged=purged,
    )


def compose(
    mail: BatchMail, recipients: list[str], settings: Settings, *, message_id: str, attachment_max_bytes: int
) -> EmailMessage:
    """The email, ready to send."""
    attachment = report_lines_xlsx(mail.failed_rows) if mail.failed_rows else None
    attach = attachment is not None and len(attachment) <= attachment_max_bytes
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in mail.file_name.rsplit(".", 1)[0])[:60] or "users"
    attachment_name = f"failed-users-{stem}.xlsx"

    message = EmailMessage()
    outcome = f"{mail.created} created, {mail.failed_count} failed"
    message["Subject"] = one_line(
        # Curly quotes: Python's folding of an ASCII quoted string puts the whole subject on a
        # continuation line, which some clients show with a leading space.
        f"Bulk upload “{one_line(mail.file_name, SUBJECT_FILE_NAME_CHARS)}”: {mail.status_label} ({outcome})",
        250,
    )
    message["From"] = settings.mail_from
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this

    text, body = _text_body(mail, attach, attachment_name), _html_body(mail, attach, attachment_name)
    message.set_content(text)
    message.add_alternative(body, subtype="html")
    if attach and attachment is not None:
        message.add_attachment(attachment, maintype=XLSX_MIME[0], subtype=XLSX_MIME[1], filename=attachment_name)
    return message


def _text_body(mail: BatchMail, attached: bool, attachment_name: str) -> str:
    lines = [
        f'Your bulk upload of "{one_line(mail.file_name, 200)}" finished: {mail.status_label}.',
        OUTCOME_SENTENCES.get(mail.status, ""),
        "",
        f"  Rows in the file:                 {mail.total_rows}",
        f"  Users created:                    {mail.created}",
        f"  Rows that could not be created:   {mail.failed_count}",
        "",
    ]
    if mail.by_code:
        lines.append("Why rows could not be created (error code: rows, for example):")
        lines.extend(f"  {s.code}: {s.rows} — {one_line(s.example, 300)}" for s in mail.by_code)
        lines.append("")
    if attached:
        lines.append(f"The failed rows are attached ({attachment_name}): fix them and upload the file again.")
    elif mail.failed_count and not mail.rows_purged:
        lines.append("The failed rows are too many to attach: download them from the upload's page.")
    elif mail.rows_purged and mail.failed_count:
        lines.append("The uploaded rows were already deleted (personal data is kept for a limited time).")
    lines += ["", f"Open the upload: {mail.upload_url}", "", "This message was sent automatically by Bulk user upload."]
    return "\n".join(line for line in lines if line is not None) + "\n"


def _html_body(mail: BatchMail, attached: bool, attachment_name: str) -> str:
    e = html.escape
    cell = 'style="padding:4px 12px 4px 0;text-align:left;vertical-align:top"'
    counts = "".join(
        f"<tr><th scope='row' {cell}>{label}</th><td {cell}>{value}</td></tr>"
        for label, value in (
            ("Rows in the file", mail.total_rows),
            ("Users created", mail.created),
            ("Rows that could not be created", mail.failed_count),
        )
    )
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Bulk upload: {e(mail.status_label)}</title></head>"
        '<body style="font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1c2024;'
        'max-width:640px;margin:0 auto;padding:16px;line-height:1.5">',
        f"<h1 style='font-size:20px'>Bulk upload of “{e(mail.file_name)}”: {e(mail.status_label)}</h1>",
        f"<p>{e(OUTCOME_SENTENCES.get(mail.status, ''))}</p>",
        f"<table style='border-collapse:collapse'>{counts}</table>",
    ]
    if mail.by_code:
        rows = "".join(
            f"<tr><td {cell}><code>{e(s.code)}</code></td><td {cell}>{s.rows}</td><td {cell}>{e(s.example)}</td></tr>"
            for s in mail.by_code
        )
        parts.append(
            "<h2 style='font-size:16px;margin-top:24px'>Why rows could not be created</h2>"
            "<table style='border-collapse:collapse'><thead><tr>"
            f"<th scope='col' {cell}>Error code</th><th scope='col' {cell}>Rows</th>"
            f"<th scope='col' {cell}>For example</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    if attached:
        parts.append(
            f"<p>The failed rows are attached (<strong>{e(attachment_name)}</strong>): fix them and upload the file again.</p>"
        )
    elif mail.failed_count and not mail.rows_purged:
        parts.append("<p>The failed rows are too many to attach: download them from the upload's page.</p>")
    elif mail.rows_purged and mail.failed_count:
        parts.append("<p>The uploaded rows were already deleted (personal data is kept for a limited time).</p>")
    parts.append(
        f'<p style="margin-top:24px"><a href="{e(mail.upload_url, quote=True)}" '
        'style="background:#0d74ce;color:#fff;padding:8px 16px;border-radius:6px;text-decoration:none">'
        "Open the upload</a></p>"
        '<p style="color:#60646c;font-size:13px">This message was sent automatically by Bulk user upload.</p>'
        "</body></html>"
    )
    return "".join(parts)


def message_id_for(claimed: Claimed, mail_from: str) -> str:
    """The same for every try of one outbox row: a mail system deduplicating by it shows one."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "bulk-upload.invalid"
    return f"<bulk-upload.{claimed.upload_id}.{claimed.id}@{domain}>"


def send(server: SmtpServer, message: EmailMessage, *, timeout: float = SMTP_TIMEOUT_SECONDS) -> dict[str, Any]:
    """Hand `message` to the SMTP server; the recipients it refused (others got it).

    DeliveryFailed (permanent for a 5xx answer) when nothing was accepted."""
    context = ssl.create_default_context()
    try:
        if server.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=timeout)
        with client:
            client.ehlo()
            if server.security == "starttls":
                client.starttls(context=context)  # raises SMTPNotSupportedError: never falls back to plain
                client.ehlo()
            if server.username:
                client.login(server.username, server.password)
            return dict(client.send_message(message))
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise DeliveryFailed(
            f"{server.describe()} refused every recipient ({', '.join(str(c) for c in codes)})",
            permanent=all(500 <= c < 600 for c in codes),
        ) from None
    except smtplib.SMTPAuthenticationError as exc:
        # Wrong credentials are fixed by an operator, then the next try goes through.
        raise DeliveryFailed(f"{server.describe()} refused the credentials ({exc.smtp_code})") from None
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise DeliveryFailed(
            f"{server.describe()} answered {exc.smtp_code} {one_line(text, 200)}", permanent=500 <= exc.smtp_code < 600
        ) from None
    except (smtplib.SMTPException, OSError) as exc:  # refused connection, timeout, TLS, lost connection
        raise DeliveryFailed(f"{server.describe()}: {type(exc).__name__}: {one_line(str(exc), 200)}") from None


def send_outbox_email(engine: Engine, claimed: Claimed, settings: Settings) -> None:
    """The outbox's sender for kind "email" (see outbox.deliver_due)."""
    if settings.smtp is None:
        raise NotDelivered(NO_MAIL_SERVER)
    mail = gather(engine, claimed, settings)
    message = compose(
        mail,
        claimed.recipients,
        settings,
        message_id=message_id_for(claimed, settings.mail_from),
        attachment_max_bytes=settings.mail_attachment_max_bytes,
    )
    send(settings.smtp, message)
