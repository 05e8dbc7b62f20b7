"""Every group, number and skill link refers to a user, group, number and skill that exist, of ONE
company; every user to its company and upload: SQLite by its foreign keys and triggers, PostgreSQL
by the statement-level checks of migrations 0009_link_checks and 0016_fast_links (locks included).

A user's own links (group_member, ...) are tested on users whose batch links were made their own
(importer/membership.own_links), as users from before migration 0021_batch_membership have them; the batch links (bulk_upload_group,
..., stored once per upload) by their composite foreign keys (migration 0021_batch_membership), on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from bulk_upload_app.db import session_scope
from bulk_upload_app.importer import membership, uploads
from bulk_upload_app.importer.batch import BatchSpec, SkillChoice
from bulk_upload_app.models import (
    BulkUpload,
    BulkUploadGroup,
    BulkUploadNumber,
    BulkUploadSkill,
    Group,
    GroupMember,
    OutboundNumber,
    Skill,
    User,
    UserOutboundNumber,
    UserSkill,
    utcnow,
)
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
    uploads.create_users(engine, company, upload)
    with session_scope(engine) as session:
        for user_id in session.execute(select(User.id).where(User.bulk_upload_id == upload)).scalars().all():
            membership.own_links(session, user_id)
    return company, *ids


def _count(engine, model) -> int:
    with session_scope(engine, read_only=True) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_each_user_owns_its_links_and_the_batch_keeps_its_own(engine, batch):
    assert _count(engine, GroupMember) == _count(engine, UserOutboundNumber) == _count(engine, UserSkill) == 20
    assert _count(engine, BulkUploadGroup) == _count(engine, BulkUploadNumber) == _count(engine, BulkUploadSkill) == 1


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
        session.execute(text("DELETE FROM bulk_upload_group WHERE group_id = :g"), {"g": group_id})
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
        deleter.execute(text("DELETE FROM bulk_upload_group WHERE group_id = :g"), {"g": group_id})
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
        cleaner.execute(text("DELETE FROM bulk_upload_group WHERE group_id = :g"), {"g": group_id})
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


def _every_group_link(engine) -> list[tuple]:
    """Every user's group links as readers see them (own and batch's), with the group's company
    (None: a missing group) and the user's."""
    with session_scope(engine, read_only=True) as session:
        links = membership.group_links()
        return [
            tuple(r)
            for r in session.execute(
                select(links.c.user_id, links.c.group_id, Group.company_id, User.company_id)
                .join(Group, Group.id == links.c.group_id, isouter=True)
                .join(User, User.id == links.c.user_id, isouter=True)
                .order_by(links.c.user_id, links.c.group_id)
            ).all()
        ]


def test_a_group_deleted_while_a_create_runs_is_gone_for_the_whole_batch_and_no_link_refers_to_it(engine):
    """Between two chunks an admin deletes one of the batch's groups. The batch refers to it (the
    create stored it at its claim), so deleting it alone is refused; deleting it as deleting a group
    does (its own links and batch links first) succeeds. The create carries on: every user of the
    batch, created before and after, has the other group only, and no link, own or the batch's,
    refers to a missing group or one of another company. A resume would refuse the batch (test_audit)."""
    company = new_company(engine, seats=100)
    with session_scope(engine) as session:
        doomed, kept = Group(company_id=company, name="Doomed"), Group(company_id=company, name="Kept")
        session.add_all([doomed, kept])
        session.flush()
        doomed_id, kept_id = doomed.id, kept.id
    upload = stage(engine, company, [_person(i) for i in range(12)], BatchSpec(group_ids=[doomed_id, kept_id]))
    refused: list[Exception] = []

    def delete_the_group(done: int, _total: int) -> None:
        if done != 4:
            return
        assert {g for _u, g, _c, _uc in _every_group_link(engine)} == {doomed_id, kept_id}
        try:
            with session_scope(engine) as session:
                session.execute(text("DELETE FROM user_group WHERE id = :g"), {"g": doomed_id})
        except REFUSED as exc:
            refused.append(exc)
        with session_scope(engine) as session:
            session.execute(text("DELETE FROM group_member WHERE group_id = :g"), {"g": doomed_id})
            session.execute(text("DELETE FROM bulk_upload_group WHERE group_id = :g"), {"g": doomed_id})
            session.execute(text("DELETE FROM user_group WHERE id = :g"), {"g": doomed_id})

    result = uploads.create_users(engine, company, upload, chunk_size=4, on_progress=delete_the_group)
    assert result.created == 12 and len(refused) == 1
    with session_scope(engine, read_only=True) as session:
        assert session.get(BulkUpload, upload).status == "done"
        assert session.get(Group, doomed_id) is None
        users = session.execute(select(User.id).where(User.company_id == company).order_by(User.id)).scalars().all()
    assert len(users) == 12
    assert _every_group_link(engine) == [(u, kept_id, company, company) for u in users]
    assert _count(engine, GroupMember) == 0 and _count(engine, BulkUploadGroup) == 1


def _upload_of(engine, company: int) -> str:
    with session_scope(engine, read_only=True) as session:
        return session.execute(select(User.bulk_upload_id).where(User.company_id == company)).scalars().first()


@pytest.mark.parametrize(
    ("model", "column", "index"),
    [(BulkUploadGroup, "group_id", 2), (BulkUploadNumber, "outbound_number_id", 3), (BulkUploadSkill, "skill_id", 4)],
)
def test_a_batch_link_to_a_missing_or_another_companys_target_or_upload_is_refused(engine, batch, model, column, index):
    company, group_id, number_id, skill_id = batch
    mine = {"group_id": group_id, "outbound_number_id": number_id, "skill_id": skill_id}[column]
    upload = _upload_of(engine, company)
    other = _other_company(engine)
    extra = {"level": 1} if model is BulkUploadSkill else {}
    with session_scope(engine) as session:  # the batch of another upload of the company: allowed
        second = BulkUpload(company_id=company)
        session.add(second)
        session.flush()
        session.execute(insert(model).values(bulk_upload_id=second.id, company_id=company, **{column: mine}, **extra))
        second_id = second.id
    for wrong in (
        {"bulk_upload_id": upload, "company_id": company, column: 999_999},  # no such target
        {"bulk_upload_id": "no-such-upload", "company_id": company, column: mine},  # no such upload
        {"bulk_upload_id": second_id, "company_id": company, column: other[index]},  # target of another company
        {"bulk_upload_id": second_id, "company_id": other[0], column: other[index]},  # upload of another company
    ):
        with pytest.raises(REFUSED), session_scope(engine) as session:
            session.execute(delete(model).where(model.bulk_upload_id == second_id))
            session.execute(insert(model).values(**wrong, **extra))
    assert _count(engine, model) == 2


@pytest.mark.parametrize("table", ["user_group", "outbound_number", "skill", "bulk_upload"])
def test_what_batch_links_refer_to_cannot_be_deleted_or_moved(engine, batch, table):
    company = batch[0]
    with session_scope(engine) as session:  # only the batch links refer to them now
        for link in ("group_member", "user_outbound_number", "user_skill"):
            session.execute(text(f"DELETE FROM {link}"))
        session.execute(text("UPDATE app_user SET bulk_upload_id = NULL, batch_membership = false"))
        session.execute(text("DELETE FROM bulk_upload_row"))
    with pytest.raises(REFUSED), session_scope(engine) as session:
        session.execute(text(f"DELETE FROM {table}"))
    if table == "bulk_upload":  # an upload moving to another company under its batch links
        other = _other_company(engine)[0]
        with pytest.raises(REFUSED), session_scope(engine) as session:
            session.execute(text("UPDATE bulk_upload SET company_id = :c"), {"c": other})
    assert _count(engine, BulkUploadGroup) == 1 and _upload_of(engine, company) is None
    with session_scope(engine) as session:  # the control: without its batch links it goes
        for given in ("bulk_upload_group", "bulk_upload_number", "bulk_upload_skill"):
            session.execute(text(f"DELETE FROM {given}"))
        session.execute(text(f"DELETE FROM {table}"))


def test_a_user_sees_no_batch_link_of_an_upload_of_another_company(engine, batch):
    """The readers join a user to its batch on its upload AND its company."""
    company = batch[0]
    upload = _upload_of(engine, company)
    _other, stranger, _g, _n, _s = _other_company(engine)
    with session_scope(engine) as session:
        session.execute(
            text("UPDATE app_user SET bulk_upload_id = :u, batch_membership = true WHERE id = :i"),
            {"u": upload, "i": stranger},
        )
    assert [link for link in _every_group_link(engine) if link[0] == stranger] == []


@postgres_only
def test_a_group_deleted_while_a_batch_link_to_it_is_written_waits_then_is_refused(engine, batch):
    """As for own links: the writer's foreign-key lock makes the delete wait; after the commit it fails."""
    company, group_id, _number, _skill = batch
    with engine.connect() as cleaner:
        cleaner.execute(text("DELETE FROM group_member WHERE group_id = :g"), {"g": group_id})
        cleaner.execute(text("DELETE FROM bulk_upload_group WHERE group_id = :g"), {"g": group_id})
        cleaner.commit()
    writer = engine.connect()
    writer.execute(
        insert(BulkUploadGroup).values(
            bulk_upload_id=_upload_of(engine, company), group_id=group_id, company_id=company
        )
    )
    with engine.connect() as deleter:
        deleter.execute(text("SET lock_timeout = '500ms'"))
        with pytest.raises(DBAPIError, match="lock timeout"):
            deleter.execute(text("DELETE FROM user_group WHERE id = :g"), {"g": group_id})
        deleter.rollback()
        writer.commit()
        writer.close()
        deleter.execute(text("SET lock_timeout = '5s'"))
        with pytest.raises(DBAPIError, match="still referenced"):
            deleter.execute(text("DELETE FROM user_group WHERE id = :g"), {"g": group_id})
    assert _count(engine, BulkUploadGroup) == 1


def test_a_link_to_a_user_this_transaction_wrote_then_deleted_is_refused(engine, batch):
    """Users of the inserting transaction are not locked (migration 0018_fast_create): they are still counted."""
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
