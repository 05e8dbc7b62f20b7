"""Step 4: the batch's Advanced settings and User skills, saved as they change.

A little over 400 lines: the State and the two tabs of controls it saves belong together;
the form's mapping to a batch is in settings_form.py.
"""

from __future__ import annotations

import contextlib
from typing import Any

import reflex as rx

from bulk_upload_app.errors import UploadBusy, UploadNotFound
from bulk_upload_app.services import batches
from bulk_upload_app.statuses import WizardStep
from bulk_upload_app.ui.layout import named_table
from bulk_upload_app.ui.session import as_id
from bulk_upload_app.ui.wizard.create import CreateState, confirm_dialog
from bulk_upload_app.ui.wizard.draft import ARRIVE_ON_STEP, DraftState, seats_banner, user_type_select
from bulk_upload_app.ui.wizard.settings_form import form_to_spec, spec_to_form, toggled
from bulk_upload_app.uploads.batch import BatchProblem, BatchSpec
from bulk_upload_app.uploads.settings_catalogue import DEFAULT_SKILL_LEVEL, SETTINGS, SKILL_LEVELS

_SETTING_KEYS = [s.key for s in SETTINGS]


class SettingsState(DraftState):
    groups: list[dict[str, str]] = []
    numbers: list[dict[str, str]] = []
    skills: list[dict[str, str]] = []
    existing_users: list[dict[str, str]] = []
    use_company_settings: bool = True
    setting_values: dict[str, str] = {}
    group_ids: list[str] = []
    number_ids: list[str] = []
    chosen_skills: list[dict[str, str]] = []  # key, skill_id, name, level, is_new
    new_skill_name: str = ""
    loaded_from: str = ""
    settings_error: str = ""

    @rx.event
    def load_settings(self):
        company_id = self._company_id()
        if company_id is None:
            return
        try:
            batch = batches.batch_of(company_id, self.upload_id)
        except UploadNotFound:
            return
        choices = batch.choices
        self.groups, self.numbers, self.skills, self.existing_users = (
            choices.groups,
            choices.numbers,
            choices.skills,
            choices.users,
        )
        self._show(batch.chosen)

    def _show(self, spec: BatchSpec) -> None:
        form = spec_to_form(spec, {s["id"]: s["name"] for s in self.skills})
        self.use_company_settings = form["use_company_settings"]
        self.setting_values, self.group_ids, self.number_ids = (
            form["setting_values"],
            form["group_ids"],
            form["number_ids"],
        )
        self.chosen_skills = form["chosen_skills"]

    def _spec(self) -> BatchSpec:
        return form_to_spec(
            self.user_type,
            self.use_company_settings,
            self.setting_values,
            self.group_ids,
            self.number_ids,
            self.chosen_skills,
        )

    def _save(self) -> None:
        company_id = self._company_id()
        if company_id is None:
            return
        try:
            batches.save_batch(company_id, self.upload_id, self._spec())
            self.settings_error = ""
        except (BatchProblem, UploadBusy, UploadNotFound, ValueError, OverflowError) as exc:
            self.settings_error = str(exc)
            # Show what is really saved, so one refused value does not spoil every later change.
            with contextlib.suppress(UploadNotFound):
                self._show(batches.chosen_batch(company_id, self.upload_id))

    @rx.event
    def set_user_type(self, value: str):
        self.user_type = value
        self._save()

    @rx.event
    def set_use_company_settings(self, value: bool):
        self.use_company_settings = bool(value)
        self._save()

    @rx.event
    def set_setting(self, key: str, value: Any):
        if key not in _SETTING_KEYS:
            return
        self.setting_values[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        self._save()

    @rx.event
    def toggle_group(self, group_id: str, checked: bool):
        if as_id(group_id) is not None:
            self.group_ids = toggled(self.group_ids, str(group_id), bool(checked))
            self._save()

    @rx.event
    def toggle_number(self, number_id: str, checked: bool):
        if as_id(number_id) is not None:
            self.number_ids = toggled(self.number_ids, str(number_id), bool(checked))
            self._save()

    @rx.event
    def toggle_skill(self, skill_id: str, checked: bool):
        if as_id(skill_id) is None:
            return
        skill_id = str(skill_id)
        self.chosen_skills = [s for s in self.chosen_skills if s["skill_id"] != skill_id]
        if checked:
            name = next((s["name"] for s in self.skills if s["id"] == skill_id), "")
            self.chosen_skills.append(
                {"key": skill_id, "skill_id": skill_id, "name": name, "level": str(DEFAULT_SKILL_LEVEL), "is_new": ""}
            )
        self._save()

    @rx.event
    def set_skill_level(self, key: str, level: str):
        if as_id(level) is None:
            return
        for skill in self.chosen_skills:
            if skill["key"] == key:
                skill["level"] = str(level)
        self._save()

    @rx.event
    def remove_skill(self, key: str):
        self.chosen_skills = [s for s in self.chosen_skills if s["key"] != key]
        self._save()

    @rx.event
    def set_new_skill_name(self, value: str):
        if self.admin() is None:
            return
        self.new_skill_name = str(value)[:100]

    @rx.event
    def add_new_skill(self):
        if self.admin() is None:
            return
        name = " ".join(self.new_skill_name.split())
        if not name:
            self.settings_error = "Type a name for the new skill."
            return
        existing = next((s for s in self.skills if s["name"].casefold() == name.casefold()), None)
        if existing is not None:
            self.new_skill_name = ""
            return SettingsState.toggle_skill(existing["id"], True)
        if any(s["name"].casefold() == name.casefold() for s in self.chosen_skills):
            self.settings_error = f'"{name}" is already in this batch.'
            return
        self.chosen_skills.append(
            {"key": f"new:{name}", "skill_id": "", "name": name, "level": str(DEFAULT_SKILL_LEVEL), "is_new": "yes"}
        )
        self.new_skill_name = ""
        self._save()

    @rx.event
    def load_existing(self, user_id: str):
        company_id = self._company_id()
        uid = as_id(user_id)
        if company_id is None or uid is None:
            return
        try:
            spec = batches.batch_of_user(company_id, uid)
        except BatchProblem as exc:
            self.settings_error = str(exc)
            return
        spec.user_type = self.user_type
        self._show(spec)
        self.loaded_from = next((u["label"] for u in self.existing_users if u["id"] == str(user_id)), "")
        self._save()


# ---------------------------------------------------------------- components


ARRIVE_ON_STEP[WizardStep.SETTINGS] = SettingsState.load_settings


def _setting_control(setting) -> rx.Component:
    control_id = f"setting-{setting.key}"
    if setting.choices is None:
        control = rx.switch(
            id=control_id,
            checked=SettingsState.setting_values[setting.key] == "true",
            on_change=lambda v: SettingsState.set_setting(setting.key, v),
        )
    else:
        control = rx.select.root(
            rx.select.trigger(id=control_id, aria_label=setting.label),
            rx.select.content(*[rx.select.item(label, value=value) for value, label in setting.choices]),
            value=SettingsState.setting_values[setting.key],
            on_change=lambda v: SettingsState.set_setting(setting.key, v),
        )
    return rx.hstack(
        rx.vstack(
            rx.el.label(setting.label, html_for=control_id, font_weight="500"),
            rx.text(setting.description, size="1", color_scheme="gray"),
            spacing="0",
        ),
        rx.spacer(),
        control,
        width="100%",
        align="center",
    )


def advanced_settings_tab() -> rx.Component:
    restrictions = [s for s in SETTINGS if s.kind == "restriction"]
    actions = [s for s in SETTINGS if s.kind == "required_action"]
    return rx.vstack(
        rx.hstack(
            rx.el.label("Load existing", html_for="load-existing", font_weight="500"),
            rx.select.root(
                rx.select.trigger(id="load-existing", placeholder="Choose a user to copy", aria_label="Load existing"),
                rx.select.content(
                    rx.foreach(SettingsState.existing_users, lambda u: rx.select.item(u["label"], value=u["id"]))
                ),
                on_change=SettingsState.load_existing,
            ),
            rx.cond(
                SettingsState.loaded_from != "",
                rx.text("Loaded from ", SettingsState.loaded_from, size="2", color_scheme="gray"),
            ),
            align="center",
            wrap="wrap",
        ),
        rx.text(
            "Optional (time saver): fill these settings from an existing user, then edit them.",
            size="2",
            color_scheme="gray",
        ),
        rx.separator(),
        rx.hstack(
            rx.switch(
                id="use-company-settings",
                checked=SettingsState.use_company_settings,
                on_change=SettingsState.set_use_company_settings,
            ),
            rx.el.label("Use company settings (default)", html_for="use-company-settings", font_weight="500"),
            align="center",
        ),
        rx.cond(
            ~SettingsState.use_company_settings,
            rx.grid(
                rx.card(rx.heading("Restrictions", size="3", as_="h3"), *[_setting_control(s) for s in restrictions]),
                rx.card(rx.heading("Required actions", size="3", as_="h3"), *[_setting_control(s) for s in actions]),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="3",
                width="100%",
            ),
        ),
        rx.separator(),
        rx.el.fieldset(
            rx.el.legend(rx.heading("Groups", size="3", as_="h3")),
            rx.foreach(
                SettingsState.groups,
                lambda g: rx.checkbox(
                    g["name"],
                    checked=SettingsState.group_ids.contains(g["id"]),
                    on_change=lambda v: SettingsState.toggle_group(g["id"], v),
                ),
            ),
            rx.cond(
                SettingsState.groups.length() == 0, rx.text("This company has no groups yet.", color_scheme="gray")
            ),
            display="flex",
            flex_direction="column",
            gap="0.5em",
            border="none",
            padding="0",
        ),
        rx.el.fieldset(
            rx.el.legend(rx.heading("Outbound call numbers", size="3", as_="h3")),
            rx.text(
                "When you choose numbers, these users call and text only from them.", size="2", color_scheme="gray"
            ),
            rx.foreach(
                SettingsState.numbers,
                lambda n: rx.checkbox(
                    n["label"],
                    checked=SettingsState.number_ids.contains(n["id"]),
                    on_change=lambda v: SettingsState.toggle_number(n["id"], v),
                ),
            ),
            display="flex",
            flex_direction="column",
            gap="0.5em",
            border="none",
            padding="0",
        ),
        spacing="4",
        width="100%",
        padding_y="1em",
    )


def _level_select(key: rx.Var, value: rx.Var, name: rx.Var) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(aria_label="Skill level for " + name),
        rx.select.content(*[rx.select.item(label, value=str(level)) for level, label in SKILL_LEVELS]),
        value=value,
        on_change=lambda v: SettingsState.set_skill_level(key, v),
    )


def user_skills_tab() -> rx.Component:
    return rx.vstack(
        rx.el.fieldset(
            rx.el.legend(rx.heading("Existing skills", size="3", as_="h3")),
            rx.foreach(
                SettingsState.skills,
                lambda s: rx.checkbox(
                    s["name"],
                    checked=SettingsState.chosen_skills.map(lambda c: c["skill_id"]).contains(s["id"]),
                    on_change=lambda v: SettingsState.toggle_skill(s["id"], v),
                ),
            ),
            display="flex",
            flex_direction="column",
            gap="0.5em",
            border="none",
            padding="0",
        ),
        rx.hstack(
            rx.el.label("New skill", html_for="new-skill", font_weight="500"),
            rx.input(
                id="new-skill",
                value=SettingsState.new_skill_name,
                on_change=SettingsState.set_new_skill_name,
                placeholder="e.g. Mandarin",
                max_length=100,
            ),
            rx.button(rx.icon("plus"), "Add skill", variant="soft", on_click=SettingsState.add_new_skill),
            align="center",
            wrap="wrap",
        ),
        rx.heading("Skills for this batch", size="3", as_="h3"),
        rx.cond(SettingsState.chosen_skills.length() == 0, rx.text("No skills chosen.", color_scheme="gray")),
        named_table(
            "Skills for this batch",
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Skill"),
                    rx.table.column_header_cell("Skill level"),
                    rx.table.column_header_cell(rx.el.span("Actions", class_name="sr-only")),
                )
            ),
            rx.table.body(
                rx.foreach(
                    SettingsState.chosen_skills,
                    lambda s: rx.table.row(
                        rx.table.row_header_cell(
                            s["name"], rx.cond(s["is_new"] != "", rx.badge("new", margin_left="0.5em"))
                        ),
                        rx.table.cell(_level_select(s["key"], s["level"], s["name"])),
                        rx.table.cell(
                            rx.icon_button(
                                rx.icon("x"),
                                variant="ghost",
                                aria_label="Remove skill " + s["name"],
                                on_click=SettingsState.remove_skill(s["key"]),
                            )
                        ),
                    ),
                )
            ),
            variant="surface",
            size="1",
        ),
        spacing="4",
        width="100%",
        padding_y="1em",
    )


def settings_step() -> rx.Component:
    return rx.vstack(
        rx.heading("Settings", size="5", as_="h2"),
        rx.text(
            "Choose the desired Advanced settings and User skills for this batch of ", DraftState.count_valid, " users."
        ),
        user_type_select(DraftState.user_type, SettingsState.set_user_type),
        rx.cond(
            SettingsState.settings_error != "",
            rx.callout(SettingsState.settings_error, icon="triangle-alert", color_scheme="red", role="alert"),
        ),
        rx.tabs.root(
            rx.tabs.list(
                rx.tabs.trigger("Advanced settings", value="advanced"), rx.tabs.trigger("User skills", value="skills")
            ),
            rx.tabs.content(advanced_settings_tab(), value="advanced"),
            rx.tabs.content(user_skills_tab(), value="skills"),
            default_value="advanced",
            width="100%",
        ),
        seats_banner(),
        rx.hstack(
            rx.button("Back", variant="soft", on_click=DraftState.go_to(WizardStep.REVIEW)),
            rx.spacer(),
            rx.button(
                "Create users",
                size="3",
                on_click=CreateState.open_confirm,
                disabled=(DraftState.count_valid == 0) | (DraftState.seats_short > 0),
            ),
            width="100%",
        ),
        confirm_dialog(),
        width="100%",
        spacing="4",
    )
