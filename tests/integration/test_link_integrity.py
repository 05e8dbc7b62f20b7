"""Every group, number and skill link refers to a user, group, number and skill that exist: SQLite
by its foreign keys, PostgreSQL by the statement-level checks of migration 0010 (locks included)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from bulk_upload_app.db import session_scope
from bulk_upload_app.importer import uploads
from bulk_upload_app.importer.batch import BatchSpec, SkillChoice
from bulk_upload_app.models import Group, GroupMember, OutboundNumber, Skill, User, UserOutboundNumber, UserSkill
from tests.integration.conftest import postgres_only

from .test_create import new_company, stage

REFUSED = (IntegrityError, DBAPIError)


def _person(i: int) -> dict:
    return {
        "firstname": f"P{i}",
        "lastname": "Link",
        "email": f"p{i}@links.example.com",
        "countryprefix": "+44",
        "phone": "",
    }


@pytest.fixture
def batch(engine):
    """A company with one group, number and skill, and 20 users created with all three."""
    company = new_company(engine, seats=100)
    with session_scope(engine) as session:
        group = Group(company_id=company, name="G")
        number = OutboundNumber(company_id=company, number="+442071838750", label="L")
        skill = Skill(company_id=company, name="S", name_key="s")
        session.add_all([group, number, skill])
        session.flush()
        ids = group.id, number.id, skill.id
    spec = BatchSpec(group_ids=[ids[0]], outbound_number_ids=[ids[1]], skills=[SkillChoice(level=3, skill_id=ids[2])])
    upload = stage(engine, company, [_person(i) for i in range(20)], spec)
    uploads.create_users(engine, company, upload)
    return company, *ids


def _count(engine, model) -> int:
    with session_scope(engine, read_only=True) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_a_create_links_every_user(engine, batch):
    assert _count(engine, GroupMember) == _count(engine, UserOutboundNumber) == _count(engine, UserSkill) == 20


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (GroupMember, {"group_id": 999_999}),
        (UserOutboundNumber, {"outbound_number_id": 999_999}),
        (UserSkill, {"skill_id": 999_999, "level": 1}),
    ],
)
def test_a_link_to_a_missing_group_number_or_skill_is_refused(engine, batch, model, values):
    with session_scope(engine, read_only=True) as session:
        user_id = session.execute(select(User.id)).scalars().first()
    with pytest.raises(REFUSED), session_scope(engine) as session:
        session.execute(insert(model).values(user_id=user_id, **values))


def test_a_link_to_a_missing_user_is_refused(engine, batch):
    _company, group_id, _number, _skill = batch
    with pytest.raises(REFUSED), session_scope(engine) as session:
        session.execute(insert(GroupMember).values(user_id=999_999, group_id=group_id))


@pytest.mark.parametrize("model", [Group, OutboundNumber, Skill, User])
def test_what_links_refer_to_cannot_be_deleted(engine, batch, model):
    with pytest.raises(REFUSED), session_scope(engine) as session:
        session.execute(text(f"DELETE FROM {model.__tablename__}"))
    assert _count(engine, GroupMember) == 20


def test_once_unlinked_a_group_can_be_deleted(engine, batch):
    _company, group_id, _number, _skill = batch
    with session_scope(engine) as session:
        session.execute(text("DELETE FROM group_member WHERE group_id = :g"), {"g": group_id})
        session.execute(text("DELETE FROM user_group WHERE id = :g"), {"g": group_id})
    assert _count(engine, Group) == 0


@postgres_only
def test_a_group_deleted_while_links_are_written_waits_then_is_refused(engine, batch):
    """As a foreign key does: the writer's lock makes the delete wait; after the commit it fails."""
    _company, group_id, _number, _skill = batch
    with session_scope(engine, read_only=True) as session:
        user_ids = session.execute(select(User.id)).scalars().all()
    with engine.connect() as deleter:
        deleter.execute(text("DELETE FROM group_member WHERE group_id = :g"), {"g": group_id})
        deleter.commit()
    writer = engine.connect()
    writer.execute(insert(GroupMember).values([{"user_id": u, "group_id": group_id} for u in user_ids[:5]]))
    with engine.connect() as deleter:
        deleter.execute(text("SET lock_timeout = '500ms'"))
        with pytest.raises(DBAPIError, match="lock timeout"):  # blocked by the writer's KEY SHARE lock
            deleter.execute(text("DELETE FROM user_group WHERE id = :g"), {"g": group_id})
        deleter.rollback()
        writer.commit()
        writer.close()
        deleter.execute(text("SET lock_timeout = '5s'"))
        with pytest.raises(DBAPIError, match="still referred to"):
            deleter.execute(text("DELETE FROM user_group WHERE id = :g"), {"g": group_id})
    assert _count(engine, GroupMember) == 5


@postgres_only
def test_links_written_to_a_group_being_deleted_wait_then_are_refused(engine, batch):
    _company, group_id, _number, _skill = batch
    with session_scope(engine, read_only=True) as session:
        user_ids = session.execute(select(User.id)).scalars().all()
    with engine.connect() as cleaner:
        cleaner.execute(text("DELETE FROM group_member WHERE group_id = :g"), {"g": group_id})
        cleaner.commit()
    deleter = engine.connect()
    deleter.execute(text("DELETE FROM user_group WHERE id = :g"), {"g": group_id})
    with engine.connect() as writer:
        writer.execute(text("SET lock_timeout = '500ms'"))
        with pytest.raises(DBAPIError, match="lock timeout"):  # the deleted row is locked until commit
            writer.execute(insert(GroupMember).values([{"user_id": u, "group_id": group_id} for u in user_ids[:3]]))
        writer.rollback()
        deleter.commit()
        deleter.close()
        with pytest.raises(DBAPIError, match="does not exist"):
            writer.execute(insert(GroupMember).values([{"user_id": u, "group_id": group_id} for u in user_ids[:3]]))
    assert _count(engine, GroupMember) == 0
