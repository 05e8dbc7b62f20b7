"""Reading a company's users for display: one page at a time, with their groups."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from bulk_upload_app.models import Company, Group, User
from bulk_upload_app.uploads import accounts, membership


@dataclass(frozen=True)
class UserListing:
    id: int
    name: str
    email: str
    user_type: str
    extension: int
    groups: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CompanyOverview:
    name: str
    seats_total: int
    seats_used: int
    user_count: int


def company_overview(session: Session, company_id: int) -> CompanyOverview:
    company = session.get(Company, company_id)
    seats = accounts.seats(session, company_id)
    count = session.exec(select(func.count()).select_from(User).where(User.company_id == company_id)).scalar_one()
    return CompanyOverview(name=company.name, seats_total=seats.total, seats_used=seats.used, user_count=count)


def list_users(session: Session, company_id: int, *, offset: int = 0, limit: int = 50) -> list[UserListing]:
    users = (
        session.exec(
            select(User)
            .where(User.company_id == company_id)
            .order_by(User.lastname, User.firstname, User.id)
            .offset(offset)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    has = membership.of_users(session, company_id, [u.id for u in users if u.id is not None])
    return [
        UserListing(
            u.id,
            f"{u.firstname} {u.lastname}",
            u.email,
            u.user_type,
            u.extension,
            ", ".join(g.name for g in has[u.id].groups),
        )
        for u in users
    ]


@dataclass(frozen=True)
class CompanyChoices:
    """What a batch can be given in this company: its groups, numbers, skills and users."""

    groups: list[dict]
    numbers: list[dict]
    skills: list[dict]
    users: list[dict]


def company_choices(session: Session, company_id: int) -> CompanyChoices:
    from bulk_upload_app.models import OutboundNumber, Skill

    groups = session.exec(select(Group.id, Group.name).where(Group.company_id == company_id).order_by(Group.name)).all()
    numbers = session.exec(
        select(OutboundNumber.id, OutboundNumber.number, OutboundNumber.label)
        .where(OutboundNumber.company_id == company_id)
        .order_by(OutboundNumber.number)
    ).all()
    skills = session.exec(select(Skill.id, Skill.name).where(Skill.company_id == company_id).order_by(Skill.name)).all()
    users = session.exec(
        select(User.id, User.firstname, User.lastname, User.email, User.user_type)
        .where(User.company_id == company_id)
        .order_by(User.lastname, User.firstname)
        .limit(500)
    ).all()
    return CompanyChoices(
        groups=[{"id": str(i), "name": n} for i, n in groups],
        numbers=[{"id": str(i), "number": n, "label": f"{n} ({label})" if label else n} for i, n, label in numbers],
        skills=[{"id": str(i), "name": n} for i, n in skills],
        users=[{"id": str(i), "label": f"{first} {last} ({email}, {kind})"} for i, first, last, email, kind in users],
    )
