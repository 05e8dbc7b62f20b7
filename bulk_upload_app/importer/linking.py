"""What a created user gets besides its row: the next extension of its company, and the batch's
groups, outbound numbers and skills, linked set-wise for a whole chunk."""

from __future__ import annotations

from sqlalchemy import (
    Integer,
    and_,
    func,
    insert,
    literal,
    select,
    true,
    union_all,
)
from sqlmodel import Session

from ..models import (
    BulkUploadRow,
    GroupMember,
    Skill,
    User,
    UserOutboundNumber,
    UserSkill,
)
from ..statuses import RowOutcome
from .batch import BatchSpec

# 4 digits, then 5 once a company outgrows them; past 99,999 users, 6 and more.
MAX_EXTENSION = 99_999_999


def next_extension(session: Session, company_id: int) -> int:
    """New users get the extensions after the highest in use, from 1000 up."""
    highest = session.exec(select(func.max(User.extension)).where(User.company_id == company_id)).scalar_one()
    return max(1000, (highest or 0) + 1)


def link_batch(session: Session, company_id: int, upload_id: str, spec: BatchSpec, low: int, high: int) -> None:
    """Give the users this chunk created the batch's groups, numbers and skills: one statement a table."""
    row = BulkUploadRow.__table__.c
    created = and_(row.upload_id == upload_id, row.row_number.between(low, high), row.outcome == RowOutcome.CREATED)
    skills = [(c.skill_id or get_or_create_skill(session, company_id, c.new_name or ""), c.level) for c in spec.skills]
    for model, columns, values in (
        (GroupMember, ["group_id"], [(g,) for g in spec.group_ids]),
        (UserOutboundNumber, ["outbound_number_id"], [(n,) for n in spec.outbound_number_ids]),
        (UserSkill, ["skill_id", "level"], skills),
    ):
        if not values:
            continue
        # A UNION ALL of literal rows: SQLite can't name the columns of a VALUES list.
        chosen = union_all(
            *(select(*(literal(v, Integer).label(c) for c, v in zip(columns, value))) for value in values)
        ).subquery("chosen")
        every_pair = BulkUploadRow.__table__.join(chosen, true())
        source = select(row.user_id, *(chosen.c[c] for c in columns)).select_from(every_pair).where(created)
        session.execute(insert(model.__table__).from_select(["user_id", *columns], source))


def get_or_create_skill(session: Session, company_id: int, name: str) -> int:
    name = " ".join(name.split())
    skill_id = session.exec(
        select(Skill.id).where(Skill.company_id == company_id, Skill.name_key == name.casefold())
    ).scalar_one_or_none()
    if skill_id is None:
        skill = Skill(company_id=company_id, name=name, name_key=name.casefold())
        session.add(skill)
        session.flush()
        skill_id = skill.id
    assert skill_id is not None  # flushed: the database gave it its id
    return skill_id
