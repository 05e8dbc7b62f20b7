"""The advanced settings a batch of users can be given: restrictions and required actions.

A user's settings are either None ("use company settings") or a complete dict of every key
here. The UI, the CLI, the seed and the engine all read this one catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    key: str
    label: str
    kind: str  # "restriction" | "required_action"
    description: str
    choices: tuple[tuple[str, str], ...] | None = None  # (value, label); None means on/off
    default: Any = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "international_calls",
        "International calls",
        "restriction",
        "Allow calls to numbers outside the company's country.",
        default=False,
    ),
    Setting(
        "premium_numbers",
        "Premium-rate numbers",
        "restriction",
        "Allow calls to premium-rate and toll numbers.",
        default=False,
    ),
    Setting("sms", "Send SMS", "restriction", "Allow sending text messages.", default=True),
    Setting(
        "call_recording_control",
        "Call recording controls",
        "restriction",
        "What the user may do with the recording of a live call.",
        choices=(("none", "No control"), ("pause_resume", "Pause and resume"), ("stop", "Pause, resume and stop")),
        default="none",
    ),
    Setting(
        "call_history_access",
        "Access to call history",
        "restriction",
        "Whose call history and recordings the user may open.",
        choices=(("own", "Own calls only"), ("groups", "Calls of their groups"), ("all", "All calls of the company")),
        default="own",
    ),
    Setting(
        "contact_export",
        "Export contacts and call logs",
        "restriction",
        "Allow downloading contacts and call logs as files.",
        default=False,
    ),
    Setting(
        "wrap_up_required",
        "Wrap-up after calls",
        "required_action",
        "The user must finish a wrap-up before taking the next call.",
        default=False,
    ),
    Setting(
        "wrap_up_seconds",
        "Wrap-up time limit",
        "required_action",
        "How long wrap-up may take before the user becomes available again.",
        choices=(("30", "30 seconds"), ("60", "1 minute"), ("120", "2 minutes"), ("300", "5 minutes")),
        default="60",
    ),
    Setting(
        "call_tagging_required",
        "Tag every call",
        "required_action",
        "The user must tag each call with at least one tag.",
        default=False,
    ),
    Setting(
        "call_notes_required",
        "Notes on every call",
        "required_action",
        "The user must write a note on each call.",
        default=False,
    ),
    Setting(
        "two_factor_required",
        "Two-factor sign-in",
        "required_action",
        "The user must confirm each sign-in with a second factor.",
        default=True,
    ),
)

BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}

# One ordered scale for every skill; routing prefers higher levels.
SKILL_LEVELS: tuple[tuple[int, str], ...] = (
    (1, "1 - Beginner"),
    (2, "2 - Basic"),
    (3, "3 - Intermediate"),
    (4, "4 - Advanced"),
    (5, "5 - Expert"),
)
SKILL_LEVEL_VALUES: tuple[int, ...] = tuple(v for v, _ in SKILL_LEVELS)
DEFAULT_SKILL_LEVEL = 3


def default_settings() -> dict[str, Any]:
    return {s.key: s.default for s in SETTINGS}


def normalise_settings(values: dict[str, Any]) -> dict[str, Any]:
    """A complete, checked settings dict: unknown keys and bad values raise ValueError."""
    unknown = set(values) - set(BY_KEY)
    if unknown:
        raise ValueError(f"Unknown settings: {', '.join(sorted(unknown))}")
    result = default_settings()
    for key, value in values.items():
        setting = BY_KEY[key]
        if setting.choices is None:
            if not isinstance(value, bool):
                raise ValueError(f"{setting.label} must be on or off")
        else:
            value = str(value)
            if value not in {v for v, _ in setting.choices}:
                raise ValueError(f"{setting.label} must be one of {', '.join(v for v, _ in setting.choices)}")
        result[key] = value
    return result


def check_skill_level(level: int) -> int:
    if level not in SKILL_LEVEL_VALUES:
        raise ValueError(f"Skill level must be one of {', '.join(map(str, SKILL_LEVEL_VALUES))}")
    return level
