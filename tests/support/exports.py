"""Users files as admins get them out of other systems, built from each source's documented header.

Each header list is copied from the vendor's documentation page named above it; the rows are
realistic (what an export of a small team holds), with every user valid for our template.
"""

from __future__ import annotations

import csv
import io

# Google Workspace Admin Help, "Add or update multiple users from a CSV file"
# (https://support.google.com/a/answer/40057): the columns of the downloaded users CSV.
GOOGLE_WORKSPACE_HEADER = [
    "First Name [Required]",
    "Last Name [Required]",
    "Email Address [Required]",
    "Password [Required]",
    "Password Hash Function [UPLOAD ONLY]",
    "Org Unit Path [Required]",
    "New Primary Email [UPLOAD ONLY]",
    "Recovery Email",
    "Home Secondary Email",
    "Work Secondary Email",
    "Recovery Phone [MUST BE IN THE E.164 FORMAT]",
    "Work Phone",
    "Home Phone",
    "Mobile Phone",
    "Work Address",
    "Home Address",
    "Employee ID",
    "Employee Type",
    "Employee Title",
    "Manager Email",
    "Department",
    "Cost Center",
    "Building ID",
    "Floor Name",
    "Floor Section",
    "Change Password at Next Sign-In",
    "New Status [UPLOAD ONLY]",
    "Advanced Protection Program enrollment",
]

# Microsoft 365 admin center, Active users → Export users ("Add several users at the same time to
# Microsoft 365", https://learn.microsoft.com/microsoft-365/admin/add-users/add-several-users-at-the-same-time,
# and the export of the Active users list): the columns of the active users CSV.
MICROSOFT_365_HEADER = [
    "Block credential",
    "City",
    "Country or region",
    "Department",
    "DirSyncEnabled",
    "Display name",
    "Fax",
    "First name",
    "Last dirsync time",
    "Last name",
    "Last password change time stamp",
    "License assignment details",
    "Licenses",
    "Mobile phone",
    "Oath token metadata",
    "Object Id",
    "Office",
    "Password never expires",
    "Phone number",
    "Postal code",
    "Preferred data location",
    "Preferred language",
    "Proxy addresses",
    "Release track",
    "Soft deletion time stamp",
    "State",
    "Street address",
    "Strong password required",
    "Title",
    "Usage location",
    "User principal name",
    "When created",
]

# Microsoft Graph, "user resource type" (https://learn.microsoft.com/graph/api/resources/user):
# the property names a Graph / Entra ID export (Get-MgUser | Export-Csv) writes as titles.
MICROSOFT_GRAPH_HEADER = [
    "id",
    "displayName",
    "givenName",
    "surname",
    "mail",
    "userPrincipalName",
    "jobTitle",
    "department",
    "officeLocation",
    "businessPhones",
    "mobilePhone",
    "usageLocation",
    "preferredLanguage",
]

# Okta Help Center, "Import users from a CSV file"
# (https://help.okta.com/en-us/content/topics/users-groups-profiles/usgp-import-users.htm) and the
# Okta user profile's base attributes (https://developer.okta.com/docs/reference/api/users/#default-profile-properties).
OKTA_HEADER = [
    "login",
    "firstName",
    "lastName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
    "email",
    "title",
    "displayName",
    "nickName",
    "profileUrl",
    "secondEmail",
    "mobilePhone",
    "primaryPhone",
    "streetAddress",
    "city",
    "state",
    "zipCode",
    "countryCode",
    "postalAddress",
    "preferredLanguage",
    "locale",
    "timezone",
    "userType",
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "managerId",
    "manager",
]


def _csv(header: list[str], rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(title, "") for title in header])
    return buffer.getvalue().encode()


def google_workspace_csv(domain: str = "example.com") -> bytes:
    """Three users; the prefix comes from their phones (international form)."""
    people = [("Ada", "Lovelace", "+44 7911 123456"), ("Grace", "Hopper", "+1 415 555 0100"), ("Anna", "Novák", "")]
    rows = []
    for i, (first, last, mobile) in enumerate(people):
        rows.append(
            {
                "First Name [Required]": first,
                "Last Name [Required]": last,
                "Email Address [Required]": f"{first.lower()}.{i}@{domain}",
                "Password [Required]": "****",
                "Org Unit Path [Required]": "/Support",
                "Recovery Email": f"{first.lower()}.private{i}@gmail.com",
                "Recovery Phone [MUST BE IN THE E.164 FORMAT]": "+420601234567" if not mobile else "",
                "Mobile Phone": mobile,
                "Employee Title": "Agent",
                "Manager Email": f"boss@{domain}",
                "Department": "Support",
                "Change Password at Next Sign-In": "False",
                "Advanced Protection Program enrollment": "False",
            }
        )
    return _csv(GOOGLE_WORKSPACE_HEADER, rows)


def microsoft_365_csv(domain: str = "example.com") -> bytes:
    """Three users; the prefix comes from "Country or region" (names) where the phone is national."""
    people = [
        ("Ada Lovelace", "Ada", "Lovelace", "07911 123456", "United Kingdom"),
        ("Max Mustermann", "Max", "Mustermann", "+49 1512 3456789", "Germany"),
        ("Jean Dupont", "Jean", "Dupont", "06 12 34 56 78", "France"),
    ]
    rows = []
    for i, (display, first, last, mobile, country) in enumerate(people):
        rows.append(
            {
                "Block credential": "False",
                "City": "London",
                "Country or region": country,
                "Department": "Support",
                "DirSyncEnabled": "False",
                "Display name": display,
                "First name": first,
                "Last name": last,
                "Licenses": "Contoso:ENTERPRISEPACK",
                "Mobile phone": mobile,
                "Object Id": f"5b1f0e2c-3a4d-4e5f-8a9b-0c1d2e3f4a{i:02d}",
                "Password never expires": "False",
                "Preferred language": "en-GB",
                "Proxy addresses": f"SMTP:{first.lower()}.{i}@{domain}",
                "Strong password required": "True",
                "Title": "Agent",
                "Usage location": "GB",
                "User principal name": f"{first.lower()}.{i}@{domain}",
                "When created": "03/02/2024 09:14:00",
            }
        )
    return _csv(MICROSOFT_365_HEADER, rows)


def okta_csv(domain: str = "example.com") -> bytes:
    """Three users; the prefix comes from countryCode (ISO codes) where the phone is national."""
    people = [
        ("Ada", "Lovelace", "07911 123456", "GB"),
        ("Carmen", "García", "612 34 56 78", "ES"),
        ("Jan", "de Vries", "", "NL"),
    ]
    rows = []
    for i, (first, last, mobile, country) in enumerate(people):
        email = f"{first.lower()}.{i}@{domain}"
        rows.append(
            {
                "login": email,
                "firstName": first,
                "lastName": last,
                "email": email,
                "title": "Agent",
                "displayName": f"{first} {last}",
                "secondEmail": f"{first.lower()}{i}@gmail.com",
                "mobilePhone": mobile,
                "city": "London",
                "countryCode": country,
                "preferredLanguage": "en",
                "locale": "en_GB",
                "timezone": "Europe/London",
                "userType": "Employee",
                "department": "Support",
            }
        )
    return _csv(OKTA_HEADER, rows)
