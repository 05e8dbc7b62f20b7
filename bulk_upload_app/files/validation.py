"""Row checks, column-wise over the whole file.

Each check is a polars expression over a whole column, or a cached function over the
column's distinct values (email domains, phone numbers), so 100,000 rows cost about as much
as their distinct values do, never a Python loop of per-row work on the common path.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
import polars as pl
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT, DOT_ATOM_TEXT_INTL, EMAIL_MAX_LENGTH
from email_validator.syntax import check_unsafe_chars

from bulk_upload_app.errors import ErrorCode, RowError, message_for
from bulk_upload_app.files.phones import e164_column, example_number
from bulk_upload_app.files.schema import BY_NAME, COLUMN_NAMES, REQUIRED_COLUMNS

NAME_COLUMNS = ("firstname", "lastname")
_CONTROL_CHARS = r"[\x00-\x1f\x7f]"
# The validator's own fast-path pattern for a plain ASCII local part, as polars regex.
_DOT_ATOM = DOT_ATOM_TEXT.pattern.replace(r"\Z", "")
_FAST_LOCAL = f"^{_DOT_ATOM}$"
_PREFIX = r"^(?:\+|00)?([1-9][0-9]{0,2})$"
VALID_CALLING_CODES: frozenset[int] = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@dataclass
class Validation:
    """The rows with their normal forms, and every problem found."""

    frame: pl.DataFrame  # row, the template columns, email_norm, prefix_norm, phone_e164, is_valid
    errors: list[RowError]
    # Set by staging.check_against_account: taken emails are in `errors` already, once.
    account_checked: bool = False

    @property
    def rows(self) -> int:
        return self.frame.height

    @property
    def valid(self) -> int:
        return int(self.frame["is_valid"].sum())

    @property
    def invalid(self) -> int:
        return self.rows - self.valid

    def slice(self, offset: int, length: int) -> Validation:
        """Rows offset to offset + length (in file order) with their errors."""
        frame = self.frame.slice(offset, length)
        if frame.height == 0:
            return Validation(frame=frame, errors=[], account_checked=self.account_checked)
        first, last = frame["row"][0], frame["row"][-1]
        errors = [e for e in self.errors if first <= e.row <= last]
        return Validation(frame=frame, errors=errors, account_checked=self.account_checked)

    def errors_by_row(self) -> dict[int, list[RowError]]:
        result: dict[int, list[RowError]] = {}
        for error in self.errors:
            result.setdefault(error.row, []).append(error)
        return result


# ---------------------------------------------------------------- email


@lru_cache(maxsize=65536)
def _check_domain(domain: str) -> tuple[str | None, int, int]:
    """(the validator's normalised domain, its ASCII length, its UTF-8 length), or (None, 0, 0) when invalid."""
    try:
        result = validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return None, 0, 0
    return result.domain.lower(), len(result.ascii_domain), len(result.domain.encode("utf8"))


@lru_cache(maxsize=4096)
def _safe_characters(text: str) -> bool:
    try:
        check_unsafe_chars(text)
    except EmailNotValidError:
        return False
    return True


def _international_local_part(email: str, local: str, domain: str) -> str | None:
    """The validator's lowercase normal form of an address whose local part is internationalised
    (josé.núñez@…) and plain — a dot-atom, already NFC, no unsafe character — else None.

    The validator spends ~40 µs a character splitting such an address; these are its own checks
    for this case (validate_email_local_part's dot-atom branch, then validate_email_length), with
    the domain's verdict cached. None (not sure) sends the address to the validator itself."""
    norm_domain, ascii_length, domain_utf8_length = _check_domain(domain)
    if norm_domain is None or not DOT_ATOM_TEXT_INTL.match(local) or not unicodedata.is_normalized("NFC", email):
        return None
    # check_unsafe_chars(local), a character at a time: the ASCII ones a dot-atom allows are all safe,
    # and past the first, a character's verdict does not depend on where it stands.
    if not _safe_characters(local[0]) or not _safe_characters("a" + "".join(sorted({c for c in local if c > "\x7f"}))):
        return None
    local_length = len(local.encode("utf8"))
    longest = max(len(email.encode("utf8")), local_length + 1 + max(domain_utf8_length, ascii_length))
    if longest > EMAIL_MAX_LENGTH:
        return None
    return local.lower() + "@" + norm_domain


def check_email(value: str) -> tuple[str | None, str | None]:
    """(lowercase normalised address, None) or (None, reason). The slow, complete path."""
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        return None, str(exc)
    return result.normalized.lower(), None


def _normalise_emails(emails: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Normalised address (or null) and reason (or null), for every value."""
    frame = (
        pl.DataFrame({"email": emails})
        .with_columns(
            parts=pl.col("email").str.split("@"),
        )
        .with_columns(
            local=pl.col("parts").list.first(),
            domain=pl.col("parts").list.last(),
            fast=(pl.col("parts").list.len() == 2) & pl.col("parts").list.first().str.contains(_FAST_LOCAL),
        )
    )
    domains = frame.filter(pl.col("fast"))["domain"].unique().to_list()
    checked = {d: _check_domain(d) for d in domains}
    domain_table = pl.DataFrame(
        {
            "domain": list(checked),
            "norm_domain": [v[0] for v in checked.values()],
            "ascii_length": [v[1] for v in checked.values()],
        },
        schema={"domain": pl.String, "norm_domain": pl.String, "ascii_length": pl.Int64},
    )
    frame = frame.join(domain_table, on="domain", how="left", maintain_order="left")
    ascii_length = pl.col("local").str.len_bytes() + 1 + pl.col("ascii_length")
    frame = frame.with_columns(
        fast_norm=pl.when(pl.col("fast") & (ascii_length <= 254)).then(
            pl.col("local").str.to_lowercase() + "@" + pl.col("norm_domain")
        ),
    )
    # Anything the fast path did not settle (non-ASCII, quoted, odd length, bad domain): a plain
    # internationalised local part gets the validator's own checks for that case, everything else
    # the validator's complete verdict, so the outcome never differs from it.
    slow_mask = frame["fast_norm"].is_null() & (frame["email"] != "")
    slow = frame.filter(slow_mask).select("email", "local", "domain", two_parts=pl.col("parts").list.len() == 2)
    slow_results = [
        (intl, None) if two_parts and (intl := _international_local_part(email, local, domain)) else check_email(email)
        for email, local, domain, two_parts in slow.iter_rows()
    ]
    norm = frame["fast_norm"].to_list()
    reason: list[str | None] = [None] * len(norm)
    slow_iter = iter(slow_results)
    for index in slow_mask.arg_true().to_list():
        norm[index], reason[index] = next(slow_iter)
    return pl.Series("email_norm", norm, dtype=pl.String), pl.Series("email_reason", reason, dtype=pl.String)


# ---------------------------------------------------------------- the whole file


def validate_rows(
    frame: pl.DataFrame,
    extra_values: dict[int, int] | None = None,
    header_width: int = 0,
    earlier_emails: pl.DataFrame | None = None,
) -> Validation:
    """Check every row of `frame` (columns: row and the template's; "" for empty).

    `earlier_emails` (email_norm, first_row): the first rows of the emails of the file's earlier
    chunks, when a file is judged chunk by chunk; a later copy of one of them is a duplicate.
    Existing users are not looked at here: that is the account check in `accounts`.
    """
    frame = frame.select(["row", *COLUMN_NAMES])
    email_norm, email_reason = _normalise_emails(frame["email"])
    frame = frame.with_columns(
        email_norm,
        email_reason,
        prefix_code=pl.col("countryprefix")
        .str.replace_all(r"\s", "")
        .str.extract(_PREFIX, 1)
        .cast(pl.Int32, strict=False),
    ).with_columns(
        prefix_code=pl.when(pl.col("prefix_code").is_in(list(VALID_CALLING_CODES))).then(pl.col("prefix_code")),
    )
    frame = frame.with_columns(
        prefix_norm=pl.when(pl.col("prefix_code").is_not_null()).then(
            pl.lit("+") + pl.col("prefix_code").cast(pl.String)
        ),
        phone_e164=e164_column(frame["prefix_code"], frame["phone"]),
        first_row=pl.col("row").min().over("email_norm"),
    )
    if earlier_emails is not None and earlier_emails.height:
        frame = (
            frame.join(
                earlier_emails.rename({"first_row": "earlier_row"}), on="email_norm", how="left", maintain_order="left"
            )
            .with_columns(first_row=pl.coalesce("earlier_row", "first_row"))
            .drop("earlier_row")
        )

    problems: list[pl.DataFrame] = []

    def add(mask: pl.Expr, column: str | None, code: ErrorCode, *extra: str) -> None:
        selected = frame.filter(mask).select("row", *extra)
        if selected.height:
            problems.append(
                selected.with_columns(column=pl.lit(column, pl.String), code=pl.lit(code.value)).select(
                    "row", "column", "code", pl.struct(*extra).alias("extra") if extra else pl.lit(None).alias("extra")
                )
            )

    missing = {c: pl.col(c) == "" for c in COLUMN_NAMES}
    too_long = {c: pl.col(c).str.len_chars() > BY_NAME[c].max_length for c in COLUMN_NAMES}
    for column in COLUMN_NAMES:
        if column in REQUIRED_COLUMNS:
            add(missing[column], column, ErrorCode.REQUIRED_VALUE_MISSING)
        add(too_long[column], column, ErrorCode.VALUE_TOO_LONG, column)
    for column in NAME_COLUMNS:
        add(~too_long[column] & pl.col(column).str.contains(_CONTROL_CHARS), column, ErrorCode.INVALID_CHARACTERS)
    add(
        ~missing["email"] & ~too_long["email"] & pl.col("email_norm").is_null(),
        "email",
        ErrorCode.INVALID_EMAIL,
        "email",
        "email_reason",
    )
    add(
        pl.col("email_norm").is_not_null() & (pl.col("row") != pl.col("first_row")),
        "email",
        ErrorCode.DUPLICATE_EMAIL_IN_FILE,
        "email_norm",
        "first_row",
    )
    add(
        ~missing["countryprefix"] & ~too_long["countryprefix"] & pl.col("prefix_code").is_null(),
        "countryprefix",
        ErrorCode.INVALID_COUNTRY_PREFIX,
        "countryprefix",
    )
    add(
        ~missing["phone"] & ~too_long["phone"] & pl.col("prefix_code").is_not_null() & pl.col("phone_e164").is_null(),
        "phone",
        ErrorCode.INVALID_PHONE_NUMBER,
        "phone",
        "prefix_code",
    )

    errors = _to_row_errors(problems)
    if extra_values:
        errors.extend(
            RowError(
                row,
                None,
                ErrorCode.EXTRA_VALUES_IN_ROW,
                message_for(ErrorCode.EXTRA_VALUES_IN_ROW, found=found, expected=header_width),
            )
            for row, found in extra_values.items()
        )
        errors.sort(key=_error_order)
    bad_rows = {e.row for e in errors}
    frame = frame.with_columns(is_valid=~pl.col("row").is_in(list(bad_rows)))
    return Validation(
        frame=frame.select("row", *COLUMN_NAMES, "email_norm", "prefix_norm", "phone_e164", "is_valid"),
        errors=errors,
    )


_COLUMN_ORDER = {c: i for i, c in enumerate(COLUMN_NAMES)}


def _error_order(error: RowError) -> tuple[int, int]:
    return error.row, _COLUMN_ORDER.get(error.column or "", -1)


def _to_row_errors(problems: list[pl.DataFrame]) -> list[RowError]:
    errors: list[RowError] = []
    for part in problems:
        for row, column, code, extra in part.iter_rows():
            errors.append(RowError(row, column, ErrorCode(code), _message(ErrorCode(code), column, extra or {})))
    errors.sort(key=_error_order)
    return errors


def _message(code: ErrorCode, column: str | None, extra: dict) -> str:
    label = BY_NAME[column].name if column else ""
    if code is ErrorCode.VALUE_TOO_LONG and column:
        return message_for(code, column=label, length=len(extra[column]), limit=BY_NAME[column].max_length)
    if code is ErrorCode.INVALID_EMAIL:
        return message_for(code, value=extra["email"], reason=extra["email_reason"])
    if code is ErrorCode.DUPLICATE_EMAIL_IN_FILE:
        return message_for(code, value=extra["email_norm"], first_row=extra["first_row"])
    if code is ErrorCode.INVALID_COUNTRY_PREFIX:
        return message_for(code, value=extra["countryprefix"])
    if code is ErrorCode.INVALID_PHONE_NUMBER:
        return message_for(
            code, value=extra["phone"], prefix=f"+{extra['prefix_code']}", example=example_number(extra["prefix_code"])
        )
    return message_for(code, column=label)
