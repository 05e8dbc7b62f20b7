"""A user's groups, outbound numbers and skills: the one module that reads and writes them.

They are the per-user link tables and nothing else: group_member, user_outbound_number and
user_skill (with the skill's level), one row per user and group, number or skill, whoever made
the user (the seed, a bulk upload, SCIM). So anyone reading those tables (the company dashboard,
call routing, reports) sees every user's membership. Migration 0023_per_user_links made it so
again: 0022_batch_membership had kept a bulk upload's links once per upload instead, which only
readers of this module saw.

Integrity is the link tables' own: foreign keys and same-company triggers on SQLite; on
PostgreSQL statement-level checks that lock what they refer to set-wise (migrations 0010,
0015_fast_links, 0019_fast_create). A create gives a chunk's users their links with one
INSERT ... SELECT per table (`link_users`), from the ids its insert of the users returned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlmodel import Session

from bulk_upload_app.models import Group, GroupMember, OutboundNumber, Skill, UserOutboundNumber, UserSkill


class Named(NamedTuple):
    id: int
    name: str  # a group's or skill's name; an outbound number's E.164 number


class Levelled(NamedTuple):
    id: int
    name: str
    level: int


@dataclass(frozen=True)
class Membership:
    """What one user is in: groups and skills by name, numbers by number."""

    groups: tuple[Named, ...] = ()
    outbound_numbers: tuple[Named, ...] = ()
    skills: tuple[Levelled, ...] = ()


@dataclass(frozen=True)
class Links:
    """Groups, numbers and skills to give users, by id: all of one company, checked by the caller."""

    group_ids: tuple[int, ...] = ()
    outbound_number_ids: tuple[int, ...] = ()
    skills: tuple[tuple[int, int], ...] = ()  # (skill id, level)


# link table, its column naming the group (number, skill), and what else a link says
_TABLES: tuple[tuple[Any, str, tuple[str, ...]], ...] = (
    (GroupMember.__table__, "group_id", ()),
    (UserOutboundNumber.__table__, "outbound_number_id", ()),
    (UserSkill.__table__, "skill_id", ("level",)),
)


def of_users(session: Session, company_id: int, user_ids: Iterable[int]) -> dict[int, Membership]:
    """Every given user's membership (empty when it has none), three queries whatever the number
    of users. Only the company's groups, numbers and skills are read, so an id of another
    company's user finds nothing."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    groups: dict[int, list[Named]] = {}
    numbers: dict[int, list[Named]] = {}
    skills: dict[int, list[Levelled]] = {}
    gm, un, us = GroupMember.__table__.c, UserOutboundNumber.__table__.c, UserSkill.__table__.c
    g, n, s = Group.__table__.c, OutboundNumber.__table__.c, Skill.__table__.c
    for user_id, group_id, name in session.execute(
        select(gm.user_id, g.id, g.name)
        .join(Group.__table__, g.id == gm.group_id)
        .where(gm.user_id.in_(ids), g.company_id == company_id)
        .order_by(g.name, g.id)
    ).all():
        groups.setdefault(user_id, []).append(Named(group_id, name))
    for user_id, number_id, number in session.execute(
        select(un.user_id, n.id, n.number)
        .join(OutboundNumber.__table__, n.id == un.outbound_number_id)
        .where(un.user_id.in_(ids), n.company_id == company_id)
        .order_by(n.number, n.id)
    ).all():
        numbers.setdefault(user_id, []).append(Named(number_id, number))
    for user_id, skill_id, name, level in session.execute(
        select(us.user_id, s.id, s.name, us.level)
        .join(Skill.__table__, s.id == us.skill_id)
        .where(us.user_id.in_(ids), s.company_id == company_id)
        .order_by(s.name, s.id)
    ).all():
        skills.setdefault(user_id, []).append(Levelled(skill_id, name, level))
    return {
        user_id: Membership(
            tuple(groups.get(user_id, ())), tuple(numbers.get(user_id, ())), tuple(skills.get(user_id, ()))
        )
        for user_id in ids
    }


def link_users(session: Session, user_ids: Sequence[int], links: Links) -> None:
    """Give these users these links: one INSERT ... SELECT a link table, the ids (sent as one
    array, or JSON on SQLite) crossed with the table's targets, each user's rows together in
    ascending ids (new users' ids ascend, so each index is written at its end)."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        users = func.unnest(literal(ids, ARRAY(Integer))).table_valued("user_id").render_derived(name="users")
        user_id = users.c.user_id
    else:
        users = func.json_each(json.dumps(ids)).table_valued("value", name="users")
        user_id = users.c.value
    chosen_by_table: list[list[tuple[int, ...]]] = [
        [(g,) for g in links.group_ids],
        [(n,) for n in links.outbound_number_ids],
        [tuple(pair) for pair in links.skills],
    ]
    for (table, target, extra), values in zip(_TABLES, chosen_by_table, strict=True):
        if not values:
            continue
        columns = (target, *extra)
        # A UNION ALL of literal rows: SQLite cannot name the columns of a VALUES list.
        chosen = union_all(
            *(select(*(literal(v, Integer).label(c) for c, v in zip(columns, value, strict=True))) for value in values)
        ).subquery("chosen")
        source = select(user_id, *(chosen.c[c] for c in columns)).select_from(users.join(chosen, true()))
        # PostgreSQL loops over the ids outside (the targets are a few rows it keeps), in their
        # order, so it needs no sort; SQLite's planner loops over the targets outside instead.
        source = source if postgres else source.order_by(user_id, chosen.c[target])
        session.execute(insert(table).from_select(["user_id", *columns], source))


def has_other_links(user_id: ColumnElement, links: Links) -> ColumnElement[bool]:
    """SQL, true for a user (`user_id`, e.g. app_user.id of the outer query) that has a link these
    do not give: another group or number, or a skill not at the given level."""
    gm, un, us = GroupMember.__table__.c, UserOutboundNumber.__table__.c, UserSkill.__table__.c
    skill_given = tuple_(us.skill_id, us.level).in_(list(links.skills)) if links.skills else false()
    return or_(
        exists(select(gm.user_id).where(gm.user_id == user_id, gm.group_id.not_in(list(links.group_ids)))),
        exists(
            select(un.user_id).where(
                un.user_id == user_id, un.outbound_number_id.not_in(list(links.outbound_number_ids))
            )
        ),
        exists(select(us.user_id).where(us.user_id == user_id, ~skill_given)),
    )


def unlink_users(session: Session, user_ids: Sequence[int]) -> None:
    """Delete these users' links, before the users themselves (undo, SCIM DELETE)."""
    for table, _target, _extra in _TABLES:
        session.execute(delete(table).where(table.c.user_id.in_(list(user_ids))))
