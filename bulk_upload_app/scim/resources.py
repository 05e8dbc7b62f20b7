"""The SCIM User we serve, and the discovery documents that describe it (RFC 7643).

Our User schema is the core User schema cut down to what a contact-center user has, so that
what `/Schemas` publishes is what we keep: userName, name (given and family name), emails,
phoneNumbers (E.164), active, externalId; displayName and userType are read-only (userType is
the company's SCIM default). An attribute of the core schema we don't list is ignored on input.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import Field
from scim2_models import (
    URN,
    AnyExtension,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ComplexAttribute,
    Context,
    ETag,
    Filter,
    Meta,
    Mutability,
    Patch,
    Required,
    Resource,
    ResourceType,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
)

from bulk_upload_app.provisioning.scim_users import Person, Provisioned
from bulk_upload_app.request_size import SCIM_BODY_BYTES

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
MAX_OPERATIONS = 1000
MAX_RESULTS = 200  # a page of /Users holds at most this many (count is capped to it)


class Name(ComplexAttribute):
    family_name: Annotated[str | None, Required.true] = None
    given_name: Annotated[str | None, Required.true] = None


class Email(ComplexAttribute):
    value: Annotated[str | None, Required.true] = None
    primary: bool | None = None


class PhoneNumber(ComplexAttribute):
    # Kept and answered in E.164; a number without "+" is read in the country of the company's
    # SCIM default prefix. The examples tell clients that read the model (scim2-tester) the form.
    value: Annotated[str | None, Field(examples=["+442071838750", "+14155552671", "+33142685300"])] = None
    primary: bool | None = None


class User(Resource[AnyExtension]):
    __schema__ = URN(USER_SCHEMA)

    user_name: Annotated[str | None, Uniqueness.server, Required.true] = None
    name: Annotated[Name | None, Required.true] = None
    Name: ClassVar[type[ComplexAttribute]] = Name
    display_name: Annotated[str | None, Mutability.read_only] = None
    emails: Annotated[list[Email] | None, Required.true] = None
    phone_numbers: list[PhoneNumber] | None = None
    user_type: Annotated[str | None, Mutability.read_only] = None
    active: bool | None = None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def version_of(found: Provisioned) -> str:
    moment = _aware(found.user.updated_at or found.user.created_at)
    return f'W/"{int(moment.timestamp() * 1_000_000) if moment else 0}"'


def to_resource(found: Provisioned, base_url: str) -> User:
    user = found.user
    return User(
        id=str(user.id),
        external_id=found.external_id,
        user_name=found.user_name,
        name=Name(given_name=user.firstname, family_name=user.lastname),
        display_name=f"{user.firstname} {user.lastname}",
        emails=[Email(value=user.email, primary=True)],
        phone_numbers=[PhoneNumber(value=user.phone, primary=True)] if user.phone else None,
        user_type=user.user_type,
        active=user.is_active,
        meta=Meta(
            resource_type="User",
            created=_aware(user.created_at),
            last_modified=_aware(user.updated_at or user.created_at),
            location=f"{base_url}/Users/{user.id}",
            version=version_of(found),
        ),
    )


def dump(resource: Any, context: Context = Context.RESOURCE_QUERY_RESPONSE, **kwargs: Any) -> dict[str, Any]:
    return resource.model_dump(scim_ctx=context, **kwargs)


def _primary(values: list[Any] | None) -> str:
    if not values:
        return ""
    chosen = next((v for v in values if v.primary), values[0])
    return (chosen.value or "").strip()


def to_person(resource: User) -> Person:
    """Our fields from a SCIM User (a missing name or email is left empty: validation says so)."""
    name = resource.name or Name()
    return Person(
        firstname=(name.given_name or "").strip(),
        lastname=(name.family_name or "").strip(),
        email=_primary(resource.emails),
        phone=_primary(resource.phone_numbers),
        user_name=(resource.user_name or "").strip(),
        external_id=resource.external_id,
        active=True if resource.active is None else bool(resource.active),
    )


# ---------------------------------------------------------------- discovery


def service_provider_config(base_url: str) -> ServiceProviderConfig:
    return ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=True, max_operations=MAX_OPERATIONS, max_payload_size=SCIM_BODY_BYTES),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="API key (Bearer)",
                description="A company API key from Users → API keys, sent as “Authorization: Bearer <key>”.",
                primary=True,
            )
        ],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{base_url}/ServiceProviderConfig"),
    )


def user_resource_type(base_url: str) -> ResourceType:
    return ResourceType.model_validate(
        {
            "id": "User",
            "name": "User",
            "description": "A contact-center user: one seat while active.",
            "endpoint": "/Users",
            "schema": USER_SCHEMA,
            "meta": {"resourceType": "ResourceType", "location": f"{base_url}/ResourceTypes/User"},
        }
    )


def user_schema(base_url: str):
    schema = User.to_schema()
    schema.name, schema.description = "User", "A contact-center user"
    schema.meta = Meta(resource_type="Schema", location=f"{base_url}/Schemas/{USER_SCHEMA}")
    return schema
