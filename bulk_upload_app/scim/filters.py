"""SCIM filters (RFC 7644 §3.4.2.2) over a company's users.

scim2-models parses and checks the filter against our User schema. The common lookups of
identity providers (`userName eq`, `emails.value eq`, `externalId eq`, `id eq`, `active eq`,
names, with and/or/not) become SQL; any other valid filter is matched by scim2-models itself,
user by user, over the company's users (slower, but every operator works).
"""

from __future__ import annotations

from scim2_models import InvalidFilterException, ScimFilter
from scim2_models.path.expressions import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
)
from sqlalchemy import and_, false, func, or_
from sqlalchemy.sql.elements import ColumnElement

from bulk_upload_app.models import ScimIdentity
from bulk_upload_app.models import User as AppUser
from bulk_upload_app.provisioning.scim_users import user_name_is
from bulk_upload_app.scim.resources import USER_SCHEMA, User


class NotSql(Exception):
    """This part of the filter has no SQL form here; match it in Python."""


def parse(text: str) -> ScimFilter[User]:
    """The filter, checked against our User schema (InvalidFilterException otherwise)."""
    try:
        return ScimFilter[User](text)
    except InvalidFilterException:
        raise
    except Exception as exc:  # the grammar's own errors
        raise InvalidFilterException(detail=f"This filter can't be read: {exc}") from exc


def _name(path: AttrPath) -> str:
    if path.uri and path.uri.lower() != USER_SCHEMA.lower():
        raise NotSql
    return f"{path.attr}.{path.sub_attr}".lower() if path.sub_attr else path.attr.lower()


def _eq(path: AttrPath, value: object) -> ColumnElement[bool]:
    name = _name(path)
    if name in ("username",):
        return user_name_is(str(value))
    if name in ("emails", "emails.value"):
        return AppUser.email == str(value).strip().lower()
    if name == "externalid":
        return ScimIdentity.external_id == str(value)  # caseExact (RFC 7643 §3.1)
    if name == "id":
        text = str(value)
        return AppUser.id == int(text) if text.isdigit() and len(text) < 18 else false()
    if name == "active" and isinstance(value, bool):
        return AppUser.is_active.is_(value)
    if name == "name.givenname":
        return func.lower(AppUser.firstname) == str(value).lower()
    if name == "name.familyname":
        return func.lower(AppUser.lastname) == str(value).lower()
    raise NotSql


def to_sql(node: FilterNode) -> ColumnElement[bool]:
    """The SQL condition for the filter (NotSql when a part of it has none here)."""
    if isinstance(node, Comparison) and node.op == CompareOperator.eq and node.value is not None:
        return _eq(node.attr_path, node.value)
    if isinstance(node, LogicalExpr):
        parts = [to_sql(term) for term in node.terms]
        return and_(*parts) if node.op == LogicalOperator.and_ else or_(*parts)
    # "not" stays in Python: SQL's NOT over a missing externalId (NULL) would drop the user.
    raise NotSql
