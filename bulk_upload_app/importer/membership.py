"""A user's groups, outbound numbers and skills, read and written in one place.

A user has two kinds of links (migration 0021_batch_membership):
- its own: group_member, user_outbound_number, user_skill rows, one per user and group (number,
  skill): the seed's users, users from before migration 0021_batch_membership, and users whose links were made their own;
- its batch's: a user created by a bulk upload has `app_user.batch_membership` and, through it, the
  groups, numbers and skills (with levels) its upload gave, stored once per upload in
  bulk_upload_group, bulk_upload_number, bulk_upload_skill. Creating 100,000 users writes 7 rows
  for them instead of 700,000 link rows, which were about 45% of a create on PostgreSQL.

Every reader goes through `group_links`, `number_links` and `skill_links`: the union of both kinds,
joined on the user's upload AND company, so a batch row of another company is never read as the
user's. A user's own link wins over its batch's for the same group, number or skill (a skill's
level), so the union has one row per user and target.

Changing one user's links later: first `own_links(user)`, in the same transaction as the change.
It writes the user's batch links as its own and clears its batch_membership, so the change touches
that user alone and the rest of its batch keep their membership. Nothing in the app changes one
user's links today (SCIM carries no groups, numbers or skills; undo and SCIM DELETE remove users);
any code that does must call `own_links` first. It leaves updated_at as it is: the user's links are
the same afterwards, and undo judges link changes by the links themselves (undo.changed_conditions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Subquery, and_, delete, exists, insert, select, union_all, update
from sqlmodel import Session

from ..models import (
    BulkUploadGroup,
    BulkUploadNumber,
    BulkUploadSkill,
    GroupMember,
    Skill,
    User,
    UserOutboundNumber,
    UserSkill,
)
from .batch import BatchSpec


@dataclass(frozen=True)
class _Kind:
    own: Any  # the per-user link table's model
    batch: Any  # the per-upload table's model
    target: str  # the column naming the group, number or skill
    extra: tuple[str, ...] = ()  # what else a link says (a skill's level)

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.target, *self.extra)


GROUPS = _Kind(GroupMember, BulkUploadGroup, "group_id")
NUMBERS = _Kind(UserOutboundNumber, BulkUploadNumber, "outbound_number_id")
SKILLS = _Kind(UserSkill, BulkUploadSkill, "skill_id", ("level",))
KINDS = (GROUPS, NUMBERS, SKILLS)


def _links(kind: _Kind, user_ids: Sequence[int] | None, name: str) -> Subquery:
    own, given, user = kind.own.__table__.c, kind.batch.__table__.c, User.__table__.c
    mine = select(own.user_id.label("user_id"), *(own[c] for c in kind.columns))
    from_batch = (
        select(user.id.label("user_id"), *(given[c] for c in kind.columns))
        .select_from(
            User.__table__.join(
                kind.batch.__table__,
                and_(given.bulk_upload_id == user.bulk_upload_id, given.company_id == user.company_id),
            )
        )
        .where(
            user.batch_membership.is_(True),
            ~exists(select(own.user_id).where(own.user_id == user.id, own[kind.target] == given[kind.target])),
        )
    )
    if user_ids is not None:
        mine = mine.where(own.user_id.in_(list(user_ids)))
        from_batch = from_batch.where(user.id.in_(list(user_ids)))
    return union_all(mine, from_batch).subquery(name)


def group_links(user_ids: Sequence[int] | None = None) -> Subquery:
    """(user_id, group_id): every group of these users (None: of all users), own or batch's."""
    return _links(GROUPS, user_ids, "group_links")


def number_links(user_ids: Sequence[int] | None = None) -> Subquery:
    """(user_id, outbound_number_id) of these users, own or batch's."""
    return _links(NUMBERS, user_ids, "number_links")


def skill_links(user_ids: Sequence[int] | None = None) -> Subquery:
    """(user_id, skill_id, level) of these users, own or batch's."""
    return _links(SKILLS, user_ids, "skill_links")


def give_batch(session: Session, company_id: int, upload_id: str, spec: BatchSpec) -> None:
    """Store the batch's groups, numbers and skills for its upload (creating the skills it names
    new), once: called by every claim of the create, it adds only what is missing. `spec` is
    checked (batch.checked_batch); the foreign keys refuse a group (number, skill) deleted since."""
    have = {
        (kind.batch, target)
        for kind in KINDS
        for target in session.execute(
            select(kind.batch.__table__.c[kind.target]).where(kind.batch.__table__.c.bulk_upload_id == upload_id)
        ).scalars()
    }
    rows: list[Any] = [
        BulkUploadGroup(bulk_upload_id=upload_id, group_id=g, company_id=company_id)
        for g in spec.group_ids
        if (BulkUploadGroup, g) not in have
    ]
    rows += [
        BulkUploadNumber(bulk_upload_id=upload_id, outbound_number_id=n, company_id=company_id)
        for n in spec.outbound_number_ids
        if (BulkUploadNumber, n) not in have
    ]
    for choice in spec.skills:
        skill_id = choice.skill_id or get_or_create_skill(session, company_id, choice.new_name or "")
        if (BulkUploadSkill, skill_id) not in have:
            rows.append(
                BulkUploadSkill(bulk_upload_id=upload_id, skill_id=skill_id, company_id=company_id, level=choice.level)
            )
    session.add_all(rows)
    session.flush()


def own_links(session: Session, user_id: int) -> None:
    """Make the user's batch links its own and end its batch membership (see the module's rule)."""
    user = User.__table__.c
    found = session.execute(
        select(user.id, user.batch_membership).where(user.id == user_id).with_for_update()
    ).one_or_none()
    if found is None or not found.batch_membership:
        return
    for kind, links in zip(KINDS, (group_links, number_links, skill_links), strict=True):
        theirs = links([user_id])
        session.execute(
            insert(kind.own.__table__).from_select(
                ["user_id", *kind.columns],
                select(theirs.c.user_id, *(theirs.c[c] for c in kind.columns)).where(
                    ~exists(
                        select(kind.own.__table__.c.user_id).where(
                            kind.own.__table__.c.user_id == user_id,
                            kind.own.__table__.c[kind.target] == theirs.c[kind.target],
                        )
                    )
                ),
            )
        )
    # updated_at kept (set to itself, which overrides its onupdate): the user's links are unchanged.
    session.execute(
        update(User.__table__).where(user.id == user_id).values(batch_membership=False, updated_at=user.updated_at)
    )


def unlink_users(session: Session, user_ids: Sequence[int]) -> None:
    """Delete these users' own links, before the users themselves (their batch's stay with the upload)."""
    for kind in KINDS:
        table = kind.own.__table__
        session.execute(delete(table).where(table.c.user_id.in_(list(user_ids))))


def drop_batch(session: Session, upload_id: str) -> None:
    """Delete the upload's batch rows once none of its users is a member (undo, after removing them)."""
    user = User.__table__.c
    if session.execute(
        select(exists().where(user.bulk_upload_id == upload_id, user.batch_membership.is_(True)))
    ).scalar_one():
        return
    for kind in KINDS:
        table = kind.batch.__table__
        session.execute(delete(table).where(table.c.bulk_upload_id == upload_id))


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
