"""Every group, number and skill link refers to a user, group, number and skill that exist, of ONE
company; every user to its company and upload: SQLite by its foreign keys and triggers, PostgreSQL
by the statement-level checks of migrations 0010 and 0015 (locks included)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from bulk_upload_app.db import session_scope
from bulk_upload_app.models import (
    BulkUpload,
    Group,
    GroupMember,
    OutboundNumber,
    Skill,
    User,
    UserOutboundNumber,
    UserSkill,
    utcnow,
)
from bulk_upload_app.uploads import creating
from bulk_upload_app.uploads.batch import BatchSpec, SkillChoice
from tests.support.factories import new_company, stage
from tests.support.services import postgres_only

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
    creating.create_users(engine, company, upload)
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


def _other_company(engine) -> tuple[int, int, int, int, int]:
    """Another company with a user, a group, a number and a skill: (company, user, group, number, skill)."""
    company = new_company(engine, seats=10, name="Other")
    with session_scope(engine) as session:
        user = User(
            company_id=company,
            firstname="O",
            lastname="Ther",
            email="o@other.example.com",
            country_prefix="+44",
            extension=1000,
            user_type="agent",
        )
        group = Group(company_id=company, name="G")
        number = OutboundNumber(company_id=company, number="+442071838751", label="L")
        skill = Skill(company_id=company, name="S", name_key="s")
        session.add_all([user, group, number, skill])
        session.flush()
        return company, user.id, group.id, number.id, skill.id


def _a_user_of(engine, company_id: int) -> int:
    with session_scope(engine, read_only=True) as session:
        return session.execute(select(User.id).where(User.company_id == company_id)).scalars().first()


@pytest.mark.parametrize(
    ("model", "column", "index"),
    [(GroupMember, "group_id", 2), (UserOutboundNumber, "outbound_number_id", 3), (UserSkill, "skill_id", 4)],
)
def test_a_link_between_two_companies_is_refused_both_ways(engine, batch, model, column, index):
    company, group_id, number_id, skill_id = batch
    other = _other_company(engine)
    mine = {"group_id": group_id, "outbound_number_id": number_id, "skill_id": skill_id}
    extra = {"level": 1} if model is UserSkill else {}
    for user_id, target in ((_a_user_of(engine, company), other[index]), (other[1], mine[column])):
        with pytest.raises(REFUSED, match="two different companies"), session_scope(engine) as session:
            session.execute(insert(model).values(user_id=user_id, **{column: target}, **extra))
    assert _count(engine, model) == 20


def test_one_statement_may_link_users_of_two_companies_each_within_its_own(engine, batch):
    company, group_id, _number, _skill = batch
    _other, other_user, other_group, _n, _s = _other_company(engine)
    with session_scope(engine, read_only=True) as session:
        first, second = session.execute(select(User.id).where(User.company_id == company).limit(2)).scalars().all()
    with session_scope(engine) as session:
        session.execute(text("DELETE FROM group_member WHERE user_id IN (:a, :b)"), {"a": first, "b": second})
        session.execute(
            insert(GroupMember).values(
                [{"user_id": first, "group_id": group_id}, {"user_id": other_user, "group_id": other_group}]
            )
        )
    assert _count(engine, GroupMember) == 20
    with pytest.raises(REFUSED, match="two different companies"), session_scope(engine) as session:
        session.execute(
            insert(GroupMember).values(
                [{"user_id": second, "group_id": group_id}, {"user_id": other_user, "group_id": group_id}]
            )
        )
    assert _count(engine, GroupMember) == 20


@pytest.mark.parametrize("model", [Group, OutboundNumber, Skill, User])
def test_a_user_group_number_or_skill_cannot_move_to_another_company(engine, batch, model):
    other = _other_company(engine)[0]
    with pytest.raises(REFUSED, match="cannot move to another company"), session_scope(engine) as session:
        session.execute(text(f"UPDATE {model.__tablename__} SET company_id = :c"), {"c": other})


def test_a_user_of_a_missing_company_or_upload_is_refused(engine, batch):
    values = {
        "firstname": "N",
        "lastname": "O",
        "country_prefix": "+44",
        "extension": 5000,
        "user_type": "agent",
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }
    company = batch[0]
    for wrong in ({"company_id": 999_999}, {"company_id": company, "bulk_upload_id": "no-such-upload"}):
        with pytest.raises(REFUSED), session_scope(engine) as session:
            session.execute(insert(User).values(email=f"n{len(wrong)}@links.example.com", **values, **wrong))


@pytest.mark.parametrize("parent", ["company", "bulk_upload"])
def test_a_company_or_upload_with_users_cannot_be_deleted(engine, parent):
    company = new_company(engine, seats=10, name="Bare")
    with session_scope(engine) as session:
        upload = BulkUpload(company_id=company)
        session.add(upload)
        session.flush()
        upload_id = upload.id
        session.add(
            User(
                company_id=company,
                firstname="B",
                lastname="Are",
                email="b@bare.example.com",
                country_prefix="+44",
                extension=1000,
                user_type="agent",
                bulk_upload_id=upload_id,
            )
        )
    with pytest.raises(REFUSED), session_scope(engine) as session:
        if parent == "company":  # nothing but the user refers to it once its upload is gone
            session.execute(text("UPDATE app_user SET bulk_upload_id = NULL"))
            session.execute(text("DELETE FROM bulk_upload WHERE id = :u"), {"u": upload_id})
        session.execute(
            text(f"DELETE FROM {parent} WHERE id = :i"), {"i": company if parent == "company" else upload_id}
        )
    with session_scope(engine, read_only=True) as session:
        assert session.get(BulkUpload, upload_id) is not None


def test_a_group_deleted_while_a_create_runs_stops_it_and_no_link_refers_to_a_missing_group(engine):
    """Between two chunks an admin deletes one of the batch's groups (its links first, as deleting a
    group does): the next chunk's links to it are refused, that chunk is rolled back whole, the
    upload is interrupted and a resume refuses the batch; every link left refers to an existing
    group of the user's company."""
    company = new_company(engine, seats=100)
    with session_scope(engine) as session:
        doomed, kept = Group(company_id=company, name="Doomed"), Group(company_id=company, name="Kept")
        session.add_all([doomed, kept])
        session.flush()
        doomed_id, kept_id = doomed.id, kept.id
    upload = stage(engine, company, [_person(i) for i in range(12)], BatchSpec(group_ids=[doomed_id, kept_id]))

    def delete_the_group(done: int, _total: int) -> None:
        if done == 4:
            with session_scope(engine) as session:
                session.execute(text("DELETE FROM group_member WHERE group_id = :g"), {"g": doomed_id})
                session.execute(text("DELETE FROM user_group WHERE id = :g"), {"g": doomed_id})

    with pytest.raises(REFUSED):
        creating.create_users(engine, company, upload, chunk_size=4, on_progress=delete_the_group)
    with session_scope(engine, read_only=True) as session:
        assert session.get(BulkUpload, upload).status == "interrupted"
        assert (
            session.execute(select(func.count()).select_from(User).where(User.company_id == company)).scalar_one() == 4
        )
        links = session.execute(
            select(GroupMember.group_id, Group.company_id, User.company_id)
            .join(Group, Group.id == GroupMember.group_id, isouter=True)
            .join(User, User.id == GroupMember.user_id, isouter=True)
        ).all()
    assert links == [(kept_id, company, company)] * 4
    with pytest.raises(ValueError, match="group does not exist"):
        creating.create_users(engine, company, upload, chunk_size=4)
    assert _count(engine, GroupMember) == 4


def test_a_link_to_a_user_this_transaction_wrote_then_deleted_is_refused(engine, batch):
    """Users of the inserting transaction are not locked (0019): they are still counted."""
    company, group_id, _number, _skill = batch
    with pytest.raises(REFUSED, match=r"does not exist|FOREIGN KEY"), session_scope(engine) as session:
        user = User(
            company_id=company,
            firstname="G",
            lastname="One",
            email="gone@links.example.com",
            country_prefix="+44",
            extension=9000,
            user_type="agent",
        )
        session.add(user)
        session.flush()
        user_id = user.id
        session.execute(text("DELETE FROM app_user WHERE id = :u"), {"u": user_id})
        session.execute(insert(GroupMember).values(user_id=user_id, group_id=group_id))


def test_links_to_users_written_in_the_same_transaction_are_kept(engine, batch):
    company, group_id, _number, _skill = batch
    with session_scope(engine) as session:
        user = User(
            company_id=company,
            firstname="N",
            lastname="Ew",
            email="new@links.example.com",
            country_prefix="+44",
            extension=9001,
            user_type="agent",
        )
        session.add(user)
        session.flush()
        session.execute(insert(GroupMember).values(user_id=user.id, group_id=group_id))
    assert _count(engine, GroupMember) == 21


@postgres_only
def test_a_user_deleted_while_links_to_it_are_written_waits_then_is_refused(engine, batch):
    """A user another transaction wrote is locked by the link writer, as a foreign key does."""
    _company, group_id, _number, _skill = batch
    with session_scope(engine, read_only=True) as session:
        user_id = session.execute(select(User.id)).scalars().first()
    with engine.connect() as cleaner:
        cleaner.execute(text("DELETE FROM group_member WHERE user_id = :u"), {"u": user_id})
        cleaner.execute(text("DELETE FROM user_outbound_number WHERE user_id = :u"), {"u": user_id})
        cleaner.execute(text("DELETE FROM user_skill WHERE user_id = :u"), {"u": user_id})
        cleaner.execute(text("UPDATE bulk_upload_row SET user_id = NULL WHERE user_id = :u"), {"u": user_id})
        cleaner.commit()
    writer = engine.connect()
    writer.execute(insert(GroupMember).values(user_id=user_id, group_id=group_id))
    with engine.connect() as deleter:
        deleter.execute(text("SET lock_timeout = '500ms'"))
        with pytest.raises(DBAPIError, match="lock timeout"):  # blocked by the writer's KEY SHARE lock
            deleter.execute(text("DELETE FROM app_user WHERE id = :u"), {"u": user_id})
        deleter.rollback()
        writer.commit()
        writer.close()
        with pytest.raises(DBAPIError, match="still referred to"):
            deleter.execute(text("DELETE FROM app_user WHERE id = :u"), {"u": user_id})
    assert _count(engine, GroupMember) == 20
