"""A django-import-export resource making the checks our upload makes, as far as Django does them.

Equivalent to ours: names required, at most 100 characters, no control characters; email required,
a valid address by the email-validator package as ours (Django's EmailValidator refuses non-ASCII
local parts such as josé@…, which ours accepts), normalised by it and compared lowercase,
unique in the file (the first copy is kept, later copies are errors) and against every existing user
(Django's validate_unique: one query per row); country prefix required, "+44", "0044" or "44", a
calling code phonenumbers knows; phone optional, valid for that calling code by phonenumbers and
stored in E.164 (what bulk_upload_app/files/phones.py check_phone does; its fast path only
accepts what this accepts). Every row is judged and reported; valid rows are created, invalid ones
are not.

Kind to Django, for its fastest honest configuration: no diff of each row (skip_diff; the admin's
preview shows one), no lookup of an existing instance (create only, as ours), and the company
checked once before the import instead of Django's one query a row for the foreign key.
"""

import phonenumbers
from django.core.exceptions import ValidationError
from email_validator import EmailNotValidError, validate_email
from import_export import fields, resources, widgets

from users.models import User


def calling_code(text: str) -> int | None:
    digits = "".join(text.split())
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    if not (1 <= len(digits) <= 3 and digits.isdigit() and digits[0] != "0"):
        return None
    code = int(digits)
    return code if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE else None


def e164(code: int, value: str) -> str | None:
    region = phonenumbers.region_code_for_country_code(code)
    text = value
    if region in ("ZZ", "001") and not text.lstrip().startswith("+"):
        text, region = f"+{code}{text}", None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != code or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class EmailWidget(widgets.CharWidget):
    def clean(self, value, row=None, **kwargs):
        text = (value or "").strip()
        if not text:
            raise ValueError("This field is required.")
        try:
            checked = validate_email(text, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValueError(str(exc)) from None  # import_field reports a ValueError on the row
        return checked.normalized.lower()


class CallingCodeWidget(widgets.CharWidget):
    def clean(self, value, row=None, **kwargs):
        text = (value or "").strip()
        if not text:
            raise ValueError("This field is required.")
        code = calling_code(text)
        if code is None:
            raise ValueError(f"{text} is not a country calling code.")
        return f"+{code}"


class UserResource(resources.ModelResource):
    first_name = fields.Field(attribute="first_name", column_name="firstname", widget=widgets.CharWidget())
    last_name = fields.Field(attribute="last_name", column_name="lastname", widget=widgets.CharWidget())
    email = fields.Field(attribute="email", column_name="email", widget=EmailWidget())
    country_prefix = fields.Field(attribute="country_prefix", column_name="countryprefix", widget=CallingCodeWidget())
    phone = fields.Field(attribute="phone", column_name="phone", widget=widgets.CharWidget(allow_blank=True))

    class Meta:
        model = User
        fields = ("first_name", "last_name", "email", "country_prefix", "phone")
        force_init_instance = True
        skip_diff = True
        use_bulk = False

    def __init__(self, company_id: int):
        super().__init__()
        self.company_id = company_id
        self.seen_emails: set[str] = set()

    def before_import(self, dataset, **kwargs):
        self.seen_emails = set()

    def import_instance(self, instance, row, **kwargs):
        errors: dict = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        instance.company_id = self.company_id
        if "email" not in errors:
            if instance.email in self.seen_emails:
                errors["email"] = ["The same email is on an earlier row of this file."]
            else:
                self.seen_emails.add(instance.email)
        if instance.phone and "phone" not in errors and "country_prefix" not in errors:
            normal = e164(int(instance.country_prefix[1:]), instance.phone)
            if normal is None:
                errors["phone"] = [f"{instance.phone} is not a valid {instance.country_prefix} number."]
            else:
                instance.phone = normal
        if not instance.phone:
            instance.phone = None
        if errors:
            raise ValidationError(errors)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        try:
            instance.full_clean(exclude=[*errors, "company"], validate_unique=validate_unique)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)


class BulkUserResource(UserResource):
    """The same checks, rows saved with bulk_create in batches of 1,000 instead of one save a row."""

    class Meta(UserResource.Meta):
        use_bulk = True
        batch_size = 1000
