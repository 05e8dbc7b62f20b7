"""What one batch of users gets: a user type and the same settings, groups, numbers, skills.

Names typed by an admin (or ids sent by a browser) are resolved here against the company's
own records only, so a batch can never point at another company's groups or skills.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from bulk_upload_app.files.schema import USER_TYPES
from bulk_upload_app.models import Group, OutboundNumber, Skill, User
from bulk_upload_app.uploads import membership
from bulk_upload_app.uploads.settings_catalogue import check_skill_level, normalise_settings


class BatchProblem(ValueError):
    """The batch's settings can't be used as given; the message says why."""


@dataclass
class SkillChoice:
    level: int
    skill_id: int | None = None  # an existing skill of the company
    new_name: str | None = None  # or a skill to create with the users


@dataclass
class BatchSpec:
    user_type: str = "agent"
    settings: dict[str, Any] | None = None  # None: use company settings
    group_ids: list[int] = field(default_factory=list)
    outbound_number_ids: list[int] = field(default_factory=list)
    skills: list[SkillChoice] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "user_type": self.user_type,
            "settings": self.settings,
            "group_ids": list(self.group_ids),
            "outbound_number_ids": list(self.outbound_number_ids),
            "skills": [{"level": s.level, "skill_id": s.skill_id, "new_name": s.new_name} for s in self.skills],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchSpec:
        return cls(
            user_type=data.get("user_type", "agent"),
            settings=data.get("settings"),
            group_ids=list(data.get("group_ids", [])),
            outbound_number_ids=list(data.get("outbound_number_ids", [])),
            skills=[SkillChoice(**s) for s in data.get("skills", [])],
        )


def checked_batch(session: Session, company_id: int, spec: BatchSpec) -> BatchSpec:
    """The spec with every id confirmed to belong to the company, or BatchProblem."""
    if spec.user_type not in USER_TYPES:
        raise BatchProblem(f"User type must be one of {', '.join(USER_TYPES)}.")
    settings = None
    if spec.settings is not None:
        try:
            settings = normalise_settings(spec.settings)
        except ValueError as exc:
            raise BatchProblem(str(exc)) from exc
    group_ids = _owned(session, Group, company_id, spec.group_ids, "group")
    number_ids = _owned(session, OutboundNumber, company_id, spec.outbound_number_ids, "outbound call number")
    skills: list[SkillChoice] = []
    seen: set[Any] = set()
    existing_ids = _owned(session, Skill, company_id, [s.skill_id for s in spec.skills if s.skill_id], "skill")
    for choice in spec.skills:
        try:
            level = check_skill_level(int(choice.level))
        except (TypeError, ValueError) as exc:
            raise BatchProblem(str(exc)) from exc
        if choice.skill_id is not None:
            key: Any = choice.skill_id
            if choice.skill_id not in existing_ids:
                raise BatchProblem("That skill does not exist in this company.")
            skills.append(SkillChoice(level=level, skill_id=choice.skill_id))
        else:
            name = " ".join((choice.new_name or "").split())
            if not name or len(name) > 100:
                raise BatchProblem("A new skill needs a name of 1 to 100 characters.")
            existing = session.exec(
                select(Skill.id).where(Skill.company_id == company_id, Skill.name_key == name.casefold())
            ).scalar_one_or_none()
            key = existing if existing is not None else name.casefold()
            skills.append(
                SkillChoice(level=level, skill_id=existing) if existing else SkillChoice(level=level, new_name=name)
            )
        if key in seen:
            raise BatchProblem("Each skill can be chosen only once.")
        seen.add(key)
    return BatchSpec(spec.user_type, settings, group_ids, number_ids, skills)


def _owned(session: Session, model: Any, company_id: int, ids: list[int], what: str) -> list[int]:
    wanted = list(dict.fromkeys(int(i) for i in ids))
    if not wanted:
        return []
    found = set(session.exec(select(model.id).where(model.company_id == company_id, model.id.in_(wanted))).scalars())
    if len(found) != len(wanted):
        raise BatchProblem(f"That {what} does not exist in this company.")
    return wanted


def batch_from_names(
    session: Session,
    company_id: int,
    *,
    user_type: str,
    group_names: Sequence[str] = (),
    outbound_numbers: Sequence[str] = (),
    skills: Sequence[tuple[str, int]] = (),
    settings_from_email: str | None = None,
) -> BatchSpec:
    """Resolve names as typed on the command line into a checked BatchSpec."""
    group_ids: list[int] = []
    for name in group_names:
        gid = session.exec(
            select(Group.id).where(Group.company_id == company_id, func.lower(Group.name) == name.strip().lower())
        ).scalar_one_or_none()
        if gid is None:
            raise BatchProblem(f'There is no group "{name}" in this company.')
        group_ids.append(gid)
    number_ids: list[int] = []
    for number in outbound_numbers:
        nid = session.exec(
            select(OutboundNumber.id).where(
                OutboundNumber.company_id == company_id, OutboundNumber.number == number.strip()
            )
        ).scalar_one_or_none()
        if nid is None:
            raise BatchProblem(f"There is no outbound call number {number} in this company.")
        number_ids.append(nid)
    choices = []
    for name, level in skills:
        sid = session.exec(
            select(Skill.id).where(Skill.company_id == company_id, Skill.name_key == " ".join(name.split()).casefold())
        ).scalar_one_or_none()
        choices.append(SkillChoice(level=level, skill_id=sid) if sid else SkillChoice(level=level, new_name=name))
    spec = BatchSpec(user_type=user_type, group_ids=group_ids, outbound_number_ids=number_ids, skills=choices)
    if settings_from_email:
        loaded = settings_of_user(session, company_id, email=settings_from_email)
        spec.settings = loaded.settings
        spec.group_ids = spec.group_ids or loaded.group_ids
        spec.outbound_number_ids = spec.outbound_number_ids or loaded.outbound_number_ids
        spec.skills = spec.skills or loaded.skills
    return checked_batch(session, company_id, spec)


def settings_of_user(
    session: Session, company_id: int, *, user_id: int | None = None, email: str | None = None
) -> BatchSpec:
    """An existing user's settings as a batch to start from ("Load existing")."""
    query = select(User).where(User.company_id == company_id)
    query = (
        query.where(User.id == user_id)
        if user_id is not None
        else query.where(User.email == (email or "").strip().lower())
    )
    user = session.exec(query).scalars().first()
    if user is None:
        raise BatchProblem("There is no such user in this company.")
    assert user.id is not None  # read from the database
    has = membership.of_users(session, company_id, [user.id])[user.id]
    return BatchSpec(
        user_type=user.user_type,
        settings=dict(user.settings) if user.settings is not None else None,
        group_ids=sorted(g.id for g in has.groups),
        outbound_number_ids=sorted(n.id for n in has.outbound_numbers),
        skills=[SkillChoice(level=s.level, skill_id=s.id) for s in sorted(has.skills)],
    )


def given_links(session: Session, company_id: int, spec: BatchSpec) -> membership.Links:
    """What the batch gives each of its users, by id; the skills it names new are created now
    (once: a skill of that name made by an earlier attempt is found). `spec` is checked."""
    return membership.Links(
        group_ids=tuple(spec.group_ids),
        outbound_number_ids=tuple(spec.outbound_number_ids),
        skills=tuple(
            (choice.skill_id or get_or_create_skill(session, company_id, choice.new_name or ""), choice.level)
            for choice in spec.skills
        ),
    )


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


def describe_batch(session: Session, company_id: int, spec: BatchSpec) -> dict[str, str]:
    """The batch in words, for the confirmation before creating users."""
    from bulk_upload_app.uploads.settings_catalogue import BY_KEY, default_settings

    def names(model: Any, ids: list[int], attribute: str) -> str:
        if not ids:
            return "None"
        found = (
            session.exec(
                select(getattr(model, attribute))
                .where(model.company_id == company_id, model.id.in_(ids))
                .order_by(getattr(model, attribute))
            )
            .scalars()
            .all()
        )
        return ", ".join(found)

    if spec.settings is None:
        settings = "Company settings"
    else:
        changed = [
            BY_KEY[key].label
            + (f": {dict(BY_KEY[key].choices)[value]}" if BY_KEY[key].choices else (" on" if value else " off"))
            for key, value in spec.settings.items()
            if value != default_settings()[key]
        ]
        settings = "Custom: " + ("; ".join(changed) if changed else "same values as the company settings")
    skill_names = {
        sid: name
        for sid, name in session.exec(
            select(Skill.id, Skill.name).where(
                Skill.company_id == company_id, Skill.id.in_([s.skill_id for s in spec.skills if s.skill_id])
            )
        ).all()
    }
    skills = (
        ", ".join(
            f"{skill_names.get(s.skill_id, s.new_name) if s.skill_id else s.new_name + ' (new)'} (level {s.level})"
            for s in spec.skills
        )
        or "None"
    )
    return {
        "settings": settings,
        "groups": names(Group, spec.group_ids, "name"),
        "numbers": names(OutboundNumber, spec.outbound_number_ids, "number"),
        "skills": skills,
    }
