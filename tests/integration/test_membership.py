"""Batch membership (importer/membership.py, migration 0021_batch_membership): a created user has its batch's groups, numbers
and skills wherever they are read, without a link row of its own; changing one user's links
later makes them its own and leaves the rest of the batch as they were; undo leaves no link or
batch row behind that no user has."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from bulk_upload_app.db import session_scope
from bulk_upload_app.directory import list_users
from bulk_upload_app.importer import membership, scim_users, undo, uploads
from bulk_upload_app.importer.batch import BatchSpec, SkillChoice, batch_from_names, settings_of_user
from bulk_upload_app.models import (
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
)
from tests.support.factories import new_company, person, stage

OWN = (GroupMember, UserOutboundNumber, UserSkill)
GIVEN = (BulkUploadGroup, BulkUploadNumber, BulkUploadSkill)


@pytest.fixture
def created(engine):
    """A company with groups Sales and Support, two numbers, skills English and Mandarin, and 3
    users created with Sales, Support, the first number, English (4) and a new skill Klingon (2)."""
    company = new_company(engine)
    with session_scope(engine) as session:
        sales, support = Group(company_id=company, name="Sales"), Group(company_id=company, name="Support")
        first = OutboundNumber(company_id=company, number="+442071838750")
        second = OutboundNumber(company_id=company, number="+442071838751")
        english = Skill(company_id=company, name="English", name_key="english")
        session.add_all([sales, support, first, second, english])
        session.flush()
        ids = {"sales": sales.id, "support": support.id, "number": first.id, "english": english.id}
    spec = BatchSpec(
        group_ids=[ids["sales"], ids["support"]],
        outbound_number_ids=[ids["number"]],
        skills=[SkillChoice(level=4, skill_id=ids["english"]), SkillChoice(level=2, new_name="Klingon")],
    )
    upload = stage(engine, company, [person(i) for i in range(3)], spec)
    uploads.create_users(engine, company, upload)
    with session_scope(engine, read_only=True) as session:
        users = session.execute(select(User.id).where(User.bulk_upload_id == upload).order_by(User.id)).scalars()
        ids["users"] = list(users)
        ids["klingon"] = session.execute(select(Skill.id).where(Skill.name == "Klingon")).scalar_one()
    return company, upload, ids


def _count(session, model, **where) -> int:
    query = select(func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return session.execute(query).scalar_one()


def _links_of(session, user_id: int) -> tuple[list[int], list[int], list[tuple[int, int]]]:
    groups, numbers, skills = (
        membership.group_links([user_id]),
        membership.number_links([user_id]),
        membership.skill_links([user_id]),
    )
    return (
        sorted(session.execute(select(groups.c.group_id)).scalars()),
        sorted(session.execute(select(numbers.c.outbound_number_id)).scalars()),
        sorted(tuple(r) for r in session.execute(select(skills.c.skill_id, skills.c.level)).all()),
    )


def test_a_created_user_has_the_batch_wherever_it_is_read_with_no_link_rows_of_its_own(engine, created):
    company, upload, ids = created
    expected_skills = sorted([(ids["english"], 4), (ids["klingon"], 2)])
    with session_scope(engine, read_only=True) as session:
        assert [_count(session, own) for own in OWN] == [0, 0, 0]
        assert [_count(session, given, bulk_upload_id=upload) for given in GIVEN] == [2, 1, 2]
        for user_id in ids["users"]:
            assert _links_of(session, user_id) == (
                sorted([ids["sales"], ids["support"]]),
                [ids["number"]],
                expected_skills,
            )
        # The Users page.
        assert [u.groups for u in list_users(session, company)] == ["Sales, Support"] * 3
        # "Load existing" in the wizard, and the CLI's --settings-from.
        loaded = settings_of_user(session, company, user_id=ids["users"][0])
        assert (loaded.group_ids, loaded.outbound_number_ids) == (
            sorted([ids["sales"], ids["support"]]),
            [ids["number"]],
        )
        assert sorted((s.skill_id, s.level) for s in loaded.skills) == expected_skills
        email = session.get(User, ids["users"][1]).email
        from_cli = batch_from_names(session, company, user_type="agent", settings_from_email=email)
        assert sorted(from_cli.group_ids) == sorted([ids["sales"], ids["support"]])


def test_one_users_change_makes_its_links_its_own_and_the_others_keep_the_batch(engine, created):
    company, upload, ids = created
    changed, *others = ids["users"]
    with session_scope(engine) as session:
        before = session.get(User, changed).updated_at
        membership.own_links(session, changed)
        membership.own_links(session, changed)  # again: nothing more to do
        # The change itself: out of Support, Klingon at level 5.
        session.execute(
            GroupMember.__table__.delete().where(GroupMember.user_id == changed, GroupMember.group_id == ids["support"])
        )
        session.execute(
            update(UserSkill).where(UserSkill.user_id == changed, UserSkill.skill_id == ids["klingon"]).values(level=5)
        )
    with session_scope(engine, read_only=True) as session:
        user = session.get(User, changed)
        assert (user.batch_membership, user.updated_at) == (False, before)
        assert _links_of(session, changed) == (
            [ids["sales"]],
            [ids["number"]],
            sorted([(ids["english"], 4), (ids["klingon"], 5)]),
        )
        for other in others:
            assert session.get(User, other).batch_membership is True
            assert _links_of(session, other)[0] == sorted([ids["sales"], ids["support"]])
            assert (ids["klingon"], 2) in _links_of(session, other)[2]
        assert [_count(session, given, bulk_upload_id=upload) for given in GIVEN] == [2, 1, 2]
        assert [u.groups for u in list_users(session, company)] == ["Sales", "Sales, Support", "Sales, Support"]


def test_a_users_own_link_and_its_batchs_to_one_target_are_read_once_the_own_level_first(engine, created):
    _company, _upload, ids = created
    user_id = ids["users"][0]
    with session_scope(engine) as session:
        session.add(GroupMember(user_id=user_id, group_id=ids["sales"]))
        session.add(UserSkill(user_id=user_id, skill_id=ids["english"], level=1))
    with session_scope(engine, read_only=True) as session:
        groups, _numbers, skills = _links_of(session, user_id)
    assert groups == sorted([ids["sales"], ids["support"]])
    assert skills == sorted([(ids["english"], 1), (ids["klingon"], 2)])


def test_undo_leaves_no_batch_rows_once_no_user_has_them(engine, created):
    company, upload, _ids = created
    with session_scope(engine) as session:
        result = undo.undo(session, company, upload, actor="test")
    assert result.removed == 3
    with session_scope(engine, read_only=True) as session:
        assert [_count(session, given) for given in GIVEN] == [0, 0, 0]
        assert [_count(session, own) for own in OWN] == [0, 0, 0]
        assert _count(session, User, company_id=company) == 0


def test_a_partly_undone_batch_keeps_its_rows_for_the_users_kept(engine, created):
    company, upload, ids = created
    kept = ids["users"][0]
    with session_scope(engine) as session:
        session.execute(update(User).where(User.id == kept).values(lastname="Renamed"))  # changed: undo keeps it
    with session_scope(engine) as session:
        result = undo.undo(session, company, upload, actor="test")
    assert (result.removed, [k.user_id for k in result.kept]) == (2, [kept])
    with session_scope(engine, read_only=True) as session:
        assert [_count(session, given, bulk_upload_id=upload) for given in GIVEN] == [2, 1, 2]
        assert _links_of(session, kept)[0] == sorted([ids["sales"], ids["support"]])
        assert [_count(session, own) for own in OWN] == [0, 0, 0]


def test_scim_delete_takes_a_users_own_links_and_leaves_the_batchs_to_the_others(engine, created):
    company, upload, ids = created
    detached, member, _third = ids["users"]
    with session_scope(engine) as session:
        membership.own_links(session, detached)
    with session_scope(engine) as session:
        scim_users.remove(session, company, detached, actor="scim")
        scim_users.remove(session, company, member, actor="scim")
    with session_scope(engine, read_only=True) as session:
        assert [_count(session, own) for own in OWN] == [0, 0, 0]
        assert [_count(session, given, bulk_upload_id=upload) for given in GIVEN] == [2, 1, 2]
        assert _links_of(session, ids["users"][2])[0] == sorted([ids["sales"], ids["support"]])
