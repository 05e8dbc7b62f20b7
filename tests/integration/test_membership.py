"""Membership (uploads/membership.py, 0023): a user's groups, numbers and skills are its rows in
group_member, user_outbound_number and user_skill, and nothing else: a created user has them as
rows of its own, read the same way by every reader (plain SQL on the link tables too); changing
one user's links touches that user alone; undo and SCIM DELETE leave no link of a removed user."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text, update

from bulk_upload_app.db import session_scope
from bulk_upload_app.directory import list_users
from bulk_upload_app.models import (
    Group,
    GroupMember,
    OutboundNumber,
    Skill,
    User,
    UserOutboundNumber,
    UserSkill,
)
from bulk_upload_app.provisioning import scim_users
from bulk_upload_app.uploads import creating, membership, undo
from bulk_upload_app.uploads.batch import BatchSpec, SkillChoice, batch_from_names, settings_of_user
from tests.support.factories import new_company, person, stage

LINKS = (GroupMember, UserOutboundNumber, UserSkill)


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
    creating.create_users(engine, company, upload)
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
    """A user's links as any reader of the link tables sees them: plain SQL, no app code."""
    groups = session.execute(text("SELECT group_id FROM group_member WHERE user_id = :u"), {"u": user_id})
    numbers = session.execute(
        text("SELECT outbound_number_id FROM user_outbound_number WHERE user_id = :u"), {"u": user_id}
    )
    skills = session.execute(text("SELECT skill_id, level FROM user_skill WHERE user_id = :u"), {"u": user_id})
    return (
        sorted(groups.scalars()),
        sorted(numbers.scalars()),
        sorted(tuple(r) for r in skills.all()),
    )


def test_a_created_user_has_link_rows_of_its_own_that_every_reader_sees(engine, created):
    company, _upload, ids = created
    expected_skills = sorted([(ids["english"], 4), (ids["klingon"], 2)])
    with session_scope(engine, read_only=True) as session:
        assert [_count(session, link) for link in LINKS] == [6, 3, 6]
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


def test_of_users_reads_a_list_of_users_by_name_and_only_within_the_company(engine, created):
    company, _upload, ids = created
    other = new_company(engine)
    with session_scope(engine, read_only=True) as session:
        found = membership.of_users(session, company, [*ids["users"], 999_999])
        elsewhere = membership.of_users(session, other, ids["users"])
    assert list(found) == sorted([*ids["users"], 999_999])
    assert found[999_999] == membership.Membership()
    for user_id in ids["users"]:
        assert found[user_id] == membership.Membership(
            groups=(membership.Named(ids["sales"], "Sales"), membership.Named(ids["support"], "Support")),
            outbound_numbers=(membership.Named(ids["number"], "+442071838750"),),
            skills=(
                membership.Levelled(ids["english"], "English", 4),
                membership.Levelled(ids["klingon"], "Klingon", 2),
            ),
        )
    # Another company asking for these ids reads nothing of theirs.
    assert set(elsewhere.values()) == {membership.Membership()}


def test_changing_one_users_links_changes_that_user_alone(engine, created):
    company, _upload, ids = created
    changed, *others = ids["users"]
    with session_scope(engine) as session:
        before = session.get(User, changed).updated_at
        # Out of Support, Klingon at level 5: plain changes of the user's own rows.
        session.execute(
            GroupMember.__table__.delete().where(GroupMember.user_id == changed, GroupMember.group_id == ids["support"])
        )
        session.execute(
            update(UserSkill).where(UserSkill.user_id == changed, UserSkill.skill_id == ids["klingon"]).values(level=5)
        )
    with session_scope(engine, read_only=True) as session:
        assert session.get(User, changed).updated_at == before
        assert _links_of(session, changed) == (
            [ids["sales"]],
            [ids["number"]],
            sorted([(ids["english"], 4), (ids["klingon"], 5)]),
        )
        for other in others:
            assert _links_of(session, other)[0] == sorted([ids["sales"], ids["support"]])
            assert (ids["klingon"], 2) in _links_of(session, other)[2]
        assert [u.groups for u in list_users(session, company)] == ["Sales", "Sales, Support", "Sales, Support"]


def test_undo_leaves_no_link_rows_of_the_users_it_removes(engine, created):
    company, upload, _ids = created
    with session_scope(engine) as session:
        result = undo.undo(session, company, upload, actor="test")
    assert result.removed == 3
    with session_scope(engine, read_only=True) as session:
        assert [_count(session, link) for link in LINKS] == [0, 0, 0]
        assert _count(session, User, company_id=company) == 0


def test_a_partly_undone_batch_keeps_the_links_of_the_users_kept(engine, created):
    company, upload, ids = created
    kept = ids["users"][0]
    with session_scope(engine) as session:
        session.execute(update(User).where(User.id == kept).values(lastname="Renamed"))  # changed: undo keeps it
    with session_scope(engine) as session:
        result = undo.undo(session, company, upload, actor="test")
    assert (result.removed, [k.user_id for k in result.kept]) == (2, [kept])
    with session_scope(engine, read_only=True) as session:
        assert _links_of(session, kept)[0] == sorted([ids["sales"], ids["support"]])
        assert [_count(session, link) for link in LINKS] == [2, 1, 2]


def test_scim_delete_takes_the_users_links_and_leaves_the_others(engine, created):
    company, _upload, ids = created
    removed, *others = ids["users"]
    with session_scope(engine) as session:
        scim_users.remove(session, company, removed, actor="scim")
    with session_scope(engine, read_only=True) as session:
        assert _links_of(session, removed) == ([], [], [])
        assert [_count(session, link) for link in LINKS] == [4, 2, 4]
        for other in others:
            assert _links_of(session, other)[0] == sorted([ids["sales"], ids["support"]])
