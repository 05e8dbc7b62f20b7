"""The batch as the settings form holds it (every value a string, as the browser sends them back),
and back; the engine checks every id against the company before use."""

from __future__ import annotations

from typing import Any

from bulk_upload_app.uploads.batch import BatchSpec, SkillChoice
from bulk_upload_app.uploads.settings_catalogue import SETTINGS, default_settings

_BOOLEAN_KEYS = {s.key for s in SETTINGS if s.choices is None}


def spec_to_form(spec: BatchSpec, skill_names: dict[str, str]) -> dict[str, Any]:
    """A batch as the settings form shows it: every value a string, as the browser sends them back."""
    values = spec.settings or default_settings()
    return {
        "use_company_settings": spec.settings is None,
        "setting_values": {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in values.items()},
        "group_ids": [str(g) for g in spec.group_ids],
        "number_ids": [str(n) for n in spec.outbound_number_ids],
        "chosen_skills": [
            {
                "key": str(s.skill_id) if s.skill_id else f"new:{s.new_name}",
                "skill_id": str(s.skill_id or ""),
                "name": skill_names.get(str(s.skill_id), "") if s.skill_id else (s.new_name or ""),
                "level": str(s.level),
                "is_new": "" if s.skill_id else "yes",
            }
            for s in spec.skills
        ],
    }


def form_to_spec(
    user_type: str,
    use_company_settings: bool,
    setting_values: dict[str, str],
    group_ids: list[str],
    number_ids: list[str],
    chosen_skills: list[dict[str, str]],
) -> BatchSpec:
    """The form back as a batch; the engine checks every id against the company before use."""
    settings = None
    if not use_company_settings:
        settings = {k: (v == "true") if k in _BOOLEAN_KEYS else v for k, v in setting_values.items()}
    return BatchSpec(
        user_type=user_type,
        settings=settings,
        group_ids=[int(g) for g in group_ids],
        outbound_number_ids=[int(n) for n in number_ids],
        skills=[
            SkillChoice(
                level=int(s["level"]),
                skill_id=int(s["skill_id"]) if s["skill_id"] else None,
                new_name=s["name"] if s["is_new"] else None,
            )
            for s in chosen_skills
        ],
    )


def toggled(values: list[str], value: str, on: bool) -> list[str]:
    rest = [v for v in values if v != value]
    return [*rest, value] if on else rest
