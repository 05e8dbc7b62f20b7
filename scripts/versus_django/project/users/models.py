"""The same user fields as bulk_upload_app.models.User that a bulk upload fills, in Django."""

from django.core.validators import RegexValidator
from django.db import models

# Our names refuse control characters (bulk_upload_app/files/validation.py _CONTROL_CHARS);
# Django's own CharField only refuses NUL.
no_control_characters = RegexValidator(
    r"[\x00-\x1f\x7f]", inverse_match=True, message="Control characters are not allowed."
)


class Company(models.Model):
    name = models.CharField(max_length=200)
    seats = models.IntegerField(default=0)


class User(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE)
    first_name = models.CharField(max_length=100, validators=[no_control_characters])
    last_name = models.CharField(max_length=100, validators=[no_control_characters])
    # A CharField: the resource checks the address with email-validator, as ours does, since
    # EmailField's validator refuses non-ASCII local parts. Stored lowercase: unique regardless of case.
    email = models.CharField(max_length=254, unique=True)
    country_prefix = models.CharField(max_length=6)
    phone = models.CharField(max_length=20, blank=True, null=True)  # E.164
