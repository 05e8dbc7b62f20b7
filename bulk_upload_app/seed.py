"""The demo account: a company with users of every type, groups, numbers and skills."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from bulk_upload_app.models import (
    Company,
    Group,
    GroupMember,
    OutboundNumber,
    Skill,
    User,
    UserOutboundNumber,
    UserSkill,
)
from bulk_upload_app.uploads.settings_catalogue import default_settings

DEMO_COMPANY = "Demo Company"
DEMO_ADMIN_EMAIL = "admin@demo-company.example.com"

_GROUPS = ("Sales", "Support", "Billing")
_NUMBERS = (
    ("+442071838750", "London main line"),
    ("+441615550100", "Manchester"),
    ("+12025550143", "US support"),
    ("+61291234567", "Sydney"),
)
_SKILLS = ("English", "Spanish", "French", "Technical support", "Billing questions")
# firstname, lastname, email, prefix, phone, type, settings overrides (None: company settings), groups, skills
_USERS = (
    ("Dana", "Admin", DEMO_ADMIN_EMAIL, "+44", "+447700900001", "admin", None, ("Sales",), ()),
    (
        "Sam",
        "Okafor",
        "sam.okafor@demo-company.example.com",
        "+44",
        "+447700900002",
        "supervisor",
        {"call_history_access": "groups", "call_recording_control": "stop"},
        ("Support",),
        (("English", 5),),
    ),
    (
        "Lena",
        "Fischer",
        "lena.fischer@demo-company.example.com",
        "+49",
        None,
        "agent",
        {"international_calls": True, "wrap_up_required": True, "wrap_up_seconds": "120"},
        ("Support", "Billing"),
        (("English", 4), ("Billing questions", 3)),
    ),
    (
        "Mateo",
        "García",
        "mateo.garcia@demo-company.example.com",
        "+34",
        "+34612345678",
        "agent",
        {"call_tagging_required": True, "sms": False},
        ("Sales",),
        (("Spanish", 5), ("English", 3)),
    ),
    (
        "Chloé",
        "Martin",
        "chloe.martin@demo-company.example.com",
        "+33",
        None,
        "agent",
        None,
        ("Support",),
        (("French", 5), ("Technical support", 2)),
    ),
    (
        "Priya",
        "Nair",
        "priya.nair@demo-company.example.com",
        "+1",
        "+12025550178",
        "analyst",
        {"call_history_access": "all", "contact_export": True},
        (),
        (),
    ),
    (
        "Tom",
        "Becker",
        "tom.becker@demo-company.example.com",
        "+44",
        None,
        "agent",
        None,
        ("Billing",),
        (("Billing questions", 4),),
    ),
    (
        "Aiko",
        "Tanaka",
        "aiko.tanaka@demo-company.example.com",
        "+81",
        None,
        "supervisor",
        None,
        ("Sales", "Support"),
        (),
    ),
    (
        "Noah",
        "Wilson",
        "noah.wilson@demo-company.example.com",
        "+61",
        "+61412345678",
        "agent",
        {"call_notes_required": True},
        ("Support",),
        (("Technical support", 4),),
    ),
    ("Eva", "Novak", "eva.novak@demo-company.example.com", "+44", None, "analyst", None, (), ()),
)


def seed_demo(session: Session) -> int:
    """Create the demo company once; return its id (the same id every time)."""
    existing = session.exec(select(Company.id).where(Company.is_demo)).scalars().first()
    if existing is not None:
        return existing
    company = Company(name=DEMO_COMPANY, seats=25, default_settings=default_settings(), is_demo=True)
    session.add(company)
    session.flush()
    groups = {name: Group(company_id=company.id, name=name) for name in _GROUPS}
    numbers = [OutboundNumber(company_id=company.id, number=n, label=label) for n, label in _NUMBERS]
    skills = {name: Skill(company_id=company.id, name=name, name_key=name.casefold()) for name in _SKILLS}
    session.add_all([*groups.values(), *numbers, *skills.values()])
    session.flush()
    for extension, (first, last, email, prefix, phone, kind, overrides, group_names, user_skills) in enumerate(
        _USERS, 1000
    ):
        settings = None if overrides is None else {**default_settings(), **overrides}
        user = User(
            company_id=company.id,
            firstname=first,
            lastname=last,
            email=email,
            country_prefix=prefix,
            phone=phone,
            extension=extension,
            user_type=kind,
            settings=settings,
        )
        session.add(user)
        session.flush()
        session.add_all(GroupMember(user_id=user.id, group_id=groups[g].id) for g in group_names)
        session.add_all(UserSkill(user_id=user.id, skill_id=skills[s].id, level=lvl) for s, lvl in user_skills)
        if kind == "agent" and overrides:
            session.add(UserOutboundNumber(user_id=user.id, outbound_number_id=numbers[0].id))
    return company.id
