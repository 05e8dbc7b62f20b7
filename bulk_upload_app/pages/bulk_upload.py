"""The Bulk user upload wizard, in the help article's steps and words."""

from __future__ import annotations

import reflex as rx

from ..importer.schema import COLUMNS, USER_TYPES
from ..importer.settings_catalogue import SETTINGS, SKILL_LEVELS
from ..state.draft import CreateState, DraftState, ReviewState, SettingsState
from ..state.upload import ACCEPTED, UPLOAD_ID, UploadState
from .layout import admins_only, loading, named_table, page_frame

STEPS = ("Template", "Upload", "Review", "Settings", "Create users")


def stepper(current: int) -> rx.Component:
    items = []
    for index, label in enumerate(STEPS):
        state = "current" if index == current else ("done" if index < current else "todo")
        items.append(
            rx.el.li(
                rx.badge(str(index + 1), variant="solid" if state != "todo" else "soft", radius="full"),
                rx.text(label, weight="bold" if state == "current" else "regular",
                        color_scheme="gray" if state == "todo" else None),
                display="flex", align_items="center", gap="0.5em",
                aria_current="step" if state == "current" else None,
            )
        )
    return rx.el.nav(
        rx.el.ol(*items, display="flex", gap="1.5em", flex_wrap="wrap", list_style="none", padding="0", margin="0"),
        aria_label="Bulk user upload steps",
    )


def error_callout(code: rx.Var, message: rx.Var) -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("triangle-alert")),
        rx.callout.text(rx.text.strong(code), " ", message),
        color_scheme="red", role="alert", width="100%",
    )


# ---------------------------------------------------------------- steps 1 and 2


def template_step() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Download template", size="5", as_="h2"),
            rx.text("Recommended: format your Google Sheet, Excel sheet or CSV file with our template. "
                    "Every user in one file gets the same user type and settings."),
            rx.el.ul(
                rx.el.li(rx.text("Required values: ", rx.code("firstname"), ", ", rx.code("lastname"), ", ",
                                 rx.code("email"), ", (E.164) ", rx.code("countryprefix"), " such as +44.")),
                rx.el.li(rx.text("Optional: ", rx.code("phone"), ", with area code.")),
                rx.el.li(rx.text("Column titles must be in lowercase and follow the template.")),
                padding_left="1.2em",
            ),
            named_table("Template columns", rx.table.header(rx.table.row(rx.table.column_header_cell("Column"), rx.table.column_header_cell("Required"),
                                             rx.table.column_header_cell("Example"))),
                rx.table.body(*[
                    rx.table.row(rx.table.row_header_cell(rx.code(c.name)), rx.table.cell("Yes" if c.required else "No"),
                                 rx.table.cell(c.example)) for c in COLUMNS
                ]),
                variant="surface", size="1",
            ),
            rx.hstack(
                rx.button(rx.icon("download"), "Download template (Excel)", variant="soft",
                          on_click=UploadState.download_template("xlsx")),
                rx.button(rx.icon("download"), "Download template (CSV)", variant="soft",
                          on_click=UploadState.download_template("csv")),
                wrap="wrap",
            ),
            rx.hstack(rx.spacer(), rx.button("Continue", size="3", on_click=UploadState.go_to_upload), width="100%"),
            spacing="4", width="100%",
        ),
        width="100%",
    )


def user_type_select(value: rx.Var, on_change) -> rx.Component:  # noqa: ANN001
    return rx.hstack(
        rx.el.label("User type for this batch", html_for="user-type", font_weight="500"),
        rx.select.root(
            rx.select.trigger(id="user-type", aria_label="User type for this batch"),
            rx.select.content(*[rx.select.item(t.capitalize(), value=t) for t in USER_TYPES]),
            value=value, on_change=on_change,
        ),
        align="center",
    )


def upload_step() -> rx.Component:
    busy = UploadState.processing
    return rx.card(
        rx.vstack(
            rx.heading(rx.cond(UploadState.replacing != "", "Replace the file", "Upload files"), size="5", as_="h2"),
            rx.text("Drag or locate your formatted file of users to add, then select Upload files."),
            user_type_select(UploadState.user_type, UploadState.set_user_type),
            rx.upload.root(
                rx.vstack(
                    rx.icon("file-up", size=32, aria_hidden="true"),
                    rx.text("Drag a file here, or ", rx.text.strong("browse"), " to choose one"),
                    rx.text(f"Accepted: {ACCEPTED} · up to ", UploadState.max_file_mb, " MB · one file", size="2",
                            color_scheme="gray"),
                    rx.foreach(rx.selected_files(UPLOAD_ID), lambda f: rx.badge(rx.icon("file"), f, size="2")),
                    align="center", spacing="2",
                ),
                id=UPLOAD_ID,
                multiple=False,
                max_files=1,
                accept={
                    "text/csv": [".csv"], "text/plain": [".txt", ".tsv"], "text/tab-separated-values": [".tsv"],
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": [".xlsx"],
                    "application/vnd.ms-excel": [".xls"], "application/vnd.oasis.opendocument.spreadsheet": [".ods"],
                },
                on_drop_rejected=UploadState.rejected,
                disabled=busy,
                border="2px dashed var(--accent-8)", border_radius="var(--radius-4)", padding="2em", width="100%",
                cursor="pointer", aria_label="Users file: drag a file here or press Enter to browse",
            ),
            rx.cond(UploadState.error_message != "", error_callout(UploadState.error_code, UploadState.error_message)),
            rx.cond(
                busy,
                rx.vstack(
                    rx.cond(
                        UploadState.uploading,
                        rx.text("Uploading… ", UploadState.upload_percent, "%"),
                        rx.text(UploadState.phase, "…"),
                    ),
                    rx.progress(value=rx.cond(UploadState.uploading, UploadState.upload_percent, UploadState.phase_percent),
                                max=100, aria_label="Upload progress", width="100%"),
                    width="100%", role="status", aria_live="polite",
                ),
            ),
            rx.hstack(
                rx.button("Back", variant="soft", on_click=UploadState.go_to_template, disabled=busy),
                rx.spacer(),
                rx.button(
                    rx.icon("upload"), "Upload files", size="3", loading=busy,
                    disabled=busy | (rx.selected_files(UPLOAD_ID).length() == 0),
                    on_click=UploadState.receive_file(
                        rx.upload_files_chunk(upload_id=UPLOAD_ID, on_upload_progress=UploadState.upload_progress)
                    ),
                ),
                width="100%",
            ),
            spacing="4", width="100%",
        ),
        width="100%",
    )


def start_page() -> rx.Component:
    return page_frame(
        "Bulk user upload",
        admins_only(UploadState, rx.vstack(
                rx.cond(UploadState.step == "template", stepper(0), stepper(1)),
                rx.cond(UploadState.step == "template", template_step(), upload_step()),
                width="100%", spacing="4",
            )),
    )


# ---------------------------------------------------------------- step 3: review


def seats_banner() -> rx.Component:
    return rx.cond(
        DraftState.seats_short > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("users")),
            rx.vstack(
                rx.text(rx.text.strong("Not enough seats. "), "These users need ", DraftState.count_valid,
                        " seats, but only ", DraftState.seats_free, " are free. Add at least ",
                        DraftState.seats_short, " seats in the legacy dashboard, or remove users from the file."),
                rx.hstack(
                    rx.button(rx.link(rx.icon("external-link"), "Go to legacy dashboard", href=DraftState.legacy_dashboard_url, target="_top", id="legacy-dashboard-link"), as_child=True, size="2"),
                    rx.button(rx.icon("refresh-cw"), "Check again", variant="soft", size="2", on_click=DraftState.check_again),
                ),
                spacing="2",
            ),
            color_scheme="amber", role="alert", width="100%",
        ),
    )


def counts_bar() -> rx.Component:
    return rx.hstack(
        rx.badge("All rows: ", DraftState.count_all, size="2", variant="soft", color_scheme="gray", high_contrast=True),
        rx.badge("Valid: ", DraftState.count_valid, size="2", variant="soft", color_scheme="green", high_contrast=True),
        rx.badge("With errors: ", DraftState.count_errors, size="2", variant="soft", color_scheme="red", high_contrast=True),
        rx.badge("Seats free: ", DraftState.seats_free, " of ", DraftState.seats_total, size="2", variant="soft",
                 high_contrast=True),
        wrap="wrap", aria_live="polite", id="draft-counts",
    )


def _cell(row: rx.Var, column: str) -> rx.Component:
    error = row[f"{column}_error"]
    error_id = f"err-{column}-" + row["id"]
    field = rx.input(
        default_value=row[column],
        key=row["id"] + "-" + column + "-" + row[column],
        on_blur=lambda value: ReviewState.edit_cell(row["id"], column, value),
        aria_label=f"{column} of row " + row["row"],
        aria_invalid=rx.cond(error != "", "true", "false"),
        aria_describedby=rx.cond(error != "", error_id, ""),
        color_scheme=rx.cond(error != "", "red", "gray"),
        variant=rx.cond(error != "", "soft", "surface"),
        size="1",
        width="100%",
    )
    return rx.table.cell(
        rx.cond(
            error != "",
            rx.tooltip(rx.box(field, rx.el.span(error, id=error_id, class_name="sr-only")), content=error),
            field,
        ),
        min_width="9em",
    )


def _grid_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(row["row"]),
        *[_cell(row, c.name) for c in COLUMNS],
        rx.table.cell(
            rx.hstack(
                rx.cond(row["row_error"] != "", rx.tooltip(rx.icon("circle-alert", color="var(--red-9)",
                                                                    aria_label=row["row_error"]), content=row["row_error"])),
                rx.icon_button(rx.icon("trash-2"), variant="ghost", color_scheme="red", size="1",
                               on_click=ReviewState.remove_row(row["id"]), aria_label="Remove row " + row["row"],
                               title="Remove row " + row["row"]),
            )
        ),
    )


def review_grid() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.hstack(
                rx.switch(checked=ReviewState.only_errors, on_change=ReviewState.set_only_errors, id="only-errors"),
                rx.el.label("Only rows with errors", html_for="only-errors"),
                align="center",
            ),
            rx.spacer(),
            rx.debounce_input(
                rx.input(rx.input.slot(rx.icon("search")), placeholder="Search rows", value=ReviewState.search,
                         on_change=ReviewState.set_search, aria_label="Search rows", type="search"),
                debounce_timeout=150,
            ),
            width="100%", align="center", wrap="wrap",
        ),
        rx.box(
            named_table("Rows of the file", rx.table.header(rx.table.row(
                    rx.table.column_header_cell("Row"),
                    *[rx.table.column_header_cell(c.name) for c in COLUMNS],
                    rx.table.column_header_cell(rx.el.span("Actions", class_name="sr-only")),
                )),
                rx.table.body(rx.foreach(ReviewState.rows, _grid_row)),
                variant="surface", size="1", width="100%",
            ),
            overflow_x="auto", width="100%",
        ),
        rx.cond(ReviewState.total_matching == 0, rx.text("No rows match.", color_scheme="gray")),
        rx.hstack(
            rx.button("Previous page", variant="soft", on_click=ReviewState.previous_page,
                      disabled=ReviewState.page_index == 0),
            rx.text("Page ", ReviewState.page_index + 1, " of ", ReviewState.page_count, " · ",
                    ReviewState.total_matching, " rows", aria_live="polite"),
            rx.button("Next page", variant="soft", on_click=ReviewState.next_page,
                      disabled=ReviewState.page_index + 1 >= ReviewState.page_count),
            align="center",
        ),
        width="100%", spacing="3",
    )


def review_step() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading("Review", size="5", as_="h2"),
            rx.text(DraftState.file_name, color_scheme="gray"),
            rx.spacer(),
            rx.button(rx.link(rx.icon("file-up"), "Replace file", href="/users/bulk-upload?replace=" + DraftState.upload_id), as_child=True, variant="soft"),
            rx.cond(DraftState.count_errors > 0, rx.menu.root(
                rx.menu.trigger(rx.button(rx.icon("download"), "Download rows with errors", variant="soft")),
                rx.menu.content(
                    rx.menu.item("Excel (.xlsx)", on_click=ReviewState.download_errors("xlsx")),
                    rx.menu.item("CSV", on_click=ReviewState.download_errors("csv")),
                ),
            )),
            width="100%", align="center", wrap="wrap",
        ),
        rx.foreach(DraftState.notices, lambda n: rx.callout(n, icon="info", size="1", width="100%")),
        counts_bar(),
        seats_banner(),
        review_grid(),
        rx.hstack(
            rx.spacer(),
            rx.button("Continue", size="3", on_click=DraftState.go_to("settings"),
                      disabled=DraftState.count_valid == 0),
            width="100%",
        ),
        width="100%", spacing="4",
    )


# ---------------------------------------------------------------- step 4: settings


def _setting_control(setting) -> rx.Component:  # noqa: ANN001
    control_id = f"setting-{setting.key}"
    if setting.choices is None:
        control = rx.switch(id=control_id, checked=SettingsState.setting_values[setting.key] == "true",
                            on_change=lambda v: SettingsState.set_setting(setting.key, v))
    else:
        control = rx.select.root(
            rx.select.trigger(id=control_id, aria_label=setting.label),
            rx.select.content(*[rx.select.item(label, value=value) for value, label in setting.choices]),
            value=SettingsState.setting_values[setting.key],
            on_change=lambda v: SettingsState.set_setting(setting.key, v),
        )
    return rx.hstack(
        rx.vstack(rx.el.label(setting.label, html_for=control_id, font_weight="500"),
                  rx.text(setting.description, size="1", color_scheme="gray"), spacing="0"),
        rx.spacer(), control, width="100%", align="center",
    )


def advanced_settings_tab() -> rx.Component:
    restrictions = [s for s in SETTINGS if s.kind == "restriction"]
    actions = [s for s in SETTINGS if s.kind == "required_action"]
    return rx.vstack(
        rx.hstack(
            rx.el.label("Load existing", html_for="load-existing", font_weight="500"),
            rx.select.root(
                rx.select.trigger(id="load-existing", placeholder="Choose a user to copy", aria_label="Load existing"),
                rx.select.content(rx.foreach(SettingsState.existing_users,
                                             lambda u: rx.select.item(u["label"], value=u["id"]))),
                on_change=SettingsState.load_existing,
            ),
            rx.cond(SettingsState.loaded_from != "", rx.text("Loaded from ", SettingsState.loaded_from, size="2",
                                                             color_scheme="gray")),
            align="center", wrap="wrap",
        ),
        rx.text("Optional (time saver): fill these settings from an existing user, then edit them.", size="2",
                color_scheme="gray"),
        rx.separator(),
        rx.hstack(
            rx.switch(id="use-company-settings", checked=SettingsState.use_company_settings,
                      on_change=SettingsState.set_use_company_settings),
            rx.el.label("Use company settings (default)", html_for="use-company-settings", font_weight="500"),
            align="center",
        ),
        rx.cond(
            ~SettingsState.use_company_settings,
            rx.grid(
                rx.card(rx.heading("Restrictions", size="3", as_="h3"), *[_setting_control(s) for s in restrictions]),
                rx.card(rx.heading("Required actions", size="3", as_="h3"), *[_setting_control(s) for s in actions]),
                columns=rx.breakpoints(initial="1", md="2"), spacing="3", width="100%",
            ),
        ),
        rx.separator(),
        rx.el.fieldset(
            rx.el.legend(rx.heading("Groups", size="3", as_="h3")),
            rx.foreach(SettingsState.groups, lambda g: rx.checkbox(
                g["name"], checked=SettingsState.group_ids.contains(g["id"]),
                on_change=lambda v: SettingsState.toggle_group(g["id"], v))),
            rx.cond(SettingsState.groups.length() == 0, rx.text("This company has no groups yet.", color_scheme="gray")),
            display="flex", flex_direction="column", gap="0.5em", border="none", padding="0",
        ),
        rx.el.fieldset(
            rx.el.legend(rx.heading("Outbound call numbers", size="3", as_="h3")),
            rx.text("When you choose numbers, these users call and text only from them.", size="2", color_scheme="gray"),
            rx.foreach(SettingsState.numbers, lambda n: rx.checkbox(
                n["label"], checked=SettingsState.number_ids.contains(n["id"]),
                on_change=lambda v: SettingsState.toggle_number(n["id"], v))),
            display="flex", flex_direction="column", gap="0.5em", border="none", padding="0",
        ),
        spacing="4", width="100%", padding_y="1em",
    )


def _level_select(key: rx.Var, value: rx.Var, name: rx.Var) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(aria_label="Skill level for " + name),
        rx.select.content(*[rx.select.item(label, value=str(level)) for level, label in SKILL_LEVELS]),
        value=value, on_change=lambda v: SettingsState.set_skill_level(key, v),
    )


def user_skills_tab() -> rx.Component:
    return rx.vstack(
        rx.el.fieldset(
            rx.el.legend(rx.heading("Existing skills", size="3", as_="h3")),
            rx.foreach(SettingsState.skills, lambda s: rx.checkbox(
                s["name"], checked=SettingsState.chosen_skills.map(lambda c: c["skill_id"]).contains(s["id"]),
                on_change=lambda v: SettingsState.toggle_skill(s["id"], v))),
            display="flex", flex_direction="column", gap="0.5em", border="none", padding="0",
        ),
        rx.hstack(
            rx.el.label("New skill", html_for="new-skill", font_weight="500"),
            rx.input(id="new-skill", value=SettingsState.new_skill_name, on_change=SettingsState.set_new_skill_name,
                     placeholder="e.g. Mandarin", max_length=100),
            rx.button(rx.icon("plus"), "Add skill", variant="soft", on_click=SettingsState.add_new_skill),
            align="center", wrap="wrap",
        ),
        rx.heading("Skills for this batch", size="3", as_="h3"),
        rx.cond(SettingsState.chosen_skills.length() == 0, rx.text("No skills chosen.", color_scheme="gray")),
        named_table("Skills for this batch", rx.table.header(rx.table.row(rx.table.column_header_cell("Skill"), rx.table.column_header_cell("Skill level"),
                                         rx.table.column_header_cell(rx.el.span("Actions", class_name="sr-only")))),
            rx.table.body(rx.foreach(SettingsState.chosen_skills, lambda s: rx.table.row(
                rx.table.row_header_cell(s["name"], rx.cond(s["is_new"] != "", rx.badge("new", margin_left="0.5em"))),
                rx.table.cell(_level_select(s["key"], s["level"], s["name"])),
                rx.table.cell(rx.icon_button(rx.icon("x"), variant="ghost", aria_label="Remove skill " + s["name"],
                                             on_click=SettingsState.remove_skill(s["key"]))),
            ))),
            variant="surface", size="1",
        ),
        spacing="4", width="100%", padding_y="1em",
    )


def settings_step() -> rx.Component:
    return rx.vstack(
        rx.heading("Settings", size="5", as_="h2"),
        rx.text("Choose the desired Advanced settings and User skills for this batch of ", DraftState.count_valid, " users."),
        user_type_select(DraftState.user_type, SettingsState.set_user_type),
        rx.cond(SettingsState.settings_error != "", rx.callout(SettingsState.settings_error, icon="triangle-alert",
                                                               color_scheme="red", role="alert")),
        rx.tabs.root(
            rx.tabs.list(rx.tabs.trigger("Advanced settings", value="advanced"), rx.tabs.trigger("User skills", value="skills")),
            rx.tabs.content(advanced_settings_tab(), value="advanced"),
            rx.tabs.content(user_skills_tab(), value="skills"),
            default_value="advanced", width="100%",
        ),
        seats_banner(),
        rx.hstack(
            rx.button("Back", variant="soft", on_click=DraftState.go_to("review")),
            rx.spacer(),
            rx.button("Create users", size="3", on_click=CreateState.open_confirm,
                      disabled=(DraftState.count_valid == 0) | (DraftState.seats_short > 0)),
            width="100%",
        ),
        confirm_dialog(),
        width="100%", spacing="4",
    )


def confirm_dialog() -> rx.Component:
    line = lambda label, value: rx.data_list.item(rx.data_list.label(label), rx.data_list.value(value))  # noqa: E731
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Create ", DraftState.count_valid, " users?"),
            rx.alert_dialog.description(
                "These users will be created as ", rx.text.strong(DraftState.user_type), " users. ",
                rx.cond(DraftState.count_errors > 0,
                        rx.text.span(DraftState.count_errors, " rows with errors will be left out.")),
            ),
            rx.data_list.root(
                line("Advanced settings", CreateState.summary["settings"]),
                line("Groups", CreateState.summary["groups"]),
                line("Outbound call numbers", CreateState.summary["numbers"]),
                line("User skills", CreateState.summary["skills"]),
                margin_y="1em",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray", on_click=CreateState.close_confirm)),
                rx.alert_dialog.action(rx.button("Confirm", on_click=CreateState.confirm, disabled=CreateState.creating)),
                justify="end", spacing="3",
            ),
        ),
        open=CreateState.confirm_open,
    )


# ---------------------------------------------------------------- steps 5 and 6


def creating_step() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Creating users…", size="5", as_="h2"),
            rx.progress(value=CreateState.progress_percent, max=100, aria_label="Creating users", width="100%"),
            rx.text(CreateState.progress_done, " of ", CreateState.progress_total, " rows done. "
                    "You can leave this page; the users keep being created.", role="status", aria_live="polite"),
            rx.button("Check progress", variant="soft", on_click=CreateState.load_result),
            width="100%", spacing="3",
        ),
        width="100%",
    )


def result_step() -> rx.Component:
    return rx.vstack(
        rx.cond(
            DraftState.status == "interrupted",
            rx.callout.root(
                rx.callout.icon(rx.icon("triangle-alert")),
                rx.vstack(
                    rx.text("Creating users stopped before the end. The users added so far are kept; "
                            "Resume creates the rest, nobody twice."),
                    rx.button(rx.icon("play"), "Resume", on_click=CreateState.confirm, loading=CreateState.creating),
                ),
                color_scheme="amber", role="alert", width="100%",
            ),
        ),
        rx.cond(
            DraftState.status == "abandoned",
            rx.callout(
                "Creating users stopped and was not resumed, so the file's rows were deleted. The users added "
                "before it stopped are kept; upload the file again to add the rest.",
                icon="triangle-alert", color_scheme="amber", role="alert", width="100%",
            ),
        ),
        rx.callout.root(
            rx.callout.icon(rx.icon("circle-check")),
            rx.callout.text(rx.text.strong(CreateState.created_count, " users added.")),
            # High contrast: bold green-11 text on the green callout fails WCAG AA (axe, serious).
            color_scheme="green", high_contrast=True, role="status", width="100%", size="3",
        ),
        rx.cond(
            CreateState.rows_purged_on != "",
            rx.text(rx.cond(CreateState.failed_total > 0, rx.text.span(CreateState.failed_total, " users could not be created. ")),
                    "The uploaded rows were deleted on ",
                    CreateState.rows_purged_on, " (personal data is kept for a limited time), so they can no "
                    "longer be listed or downloaded.", color_scheme="gray"),
        ),
        rx.cond(
            (CreateState.failed_total > 0) & (CreateState.rows_purged_on == ""),
            rx.vstack(
                rx.hstack(
                    rx.heading(CreateState.failed_total, " users could not be created", size="4", as_="h2"),
                    rx.spacer(),
                    rx.button(rx.icon("download"), "Download failed rows (Excel)", variant="soft",
                              on_click=CreateState.download_failed("xlsx")),
                    rx.button(rx.icon("download"), "Download failed rows (CSV)", variant="soft",
                              on_click=CreateState.download_failed("csv")),
                    width="100%", align="center", wrap="wrap",
                ),
                rx.text("Fix these rows in the downloaded file and upload it again.", color_scheme="gray"),
                named_table("Users that failed", rx.table.header(rx.table.row(*[rx.table.column_header_cell(t) for t in ("Row", "Email", "Error code", "How to fix it")])),
                    rx.table.body(rx.foreach(CreateState.failed, lambda f: rx.table.row(
                        rx.table.row_header_cell(f["row"]), rx.table.cell(f["email"]), rx.table.cell(rx.code(f["code"])),
                        rx.table.cell(f["message"])))),
                    variant="surface", size="1", width="100%",
                ),
                rx.cond(CreateState.failed_total > 200, rx.text("The first 200 are shown; the download has all of them.")),
                width="100%", spacing="3",
            ),
        ),
        rx.hstack(
            rx.button(rx.link("View users", href="/users"), as_child=True, size="3"),
            rx.button(rx.link("Upload another file", href="/users/bulk-upload?step=upload"), as_child=True, size="3", variant="soft"),
        ),
        width="100%", spacing="4",
    )


def draft_page() -> rx.Component:
    return page_frame(
        "Bulk user upload",
        admins_only(DraftState, rx.cond(
                DraftState.not_found,
                rx.callout("This bulk upload does not exist or belongs to another account.", icon="circle-x",
                           color_scheme="red", role="alert"),
                rx.vstack(
                    rx.match(DraftState.step, ("review", stepper(2)), ("settings", stepper(3)), stepper(4)),
                    rx.cond(DraftState.message != "", rx.callout(DraftState.message, icon="info", role="status")),
                    rx.match(
                        DraftState.step,
                        ("review", review_step()),
                        ("settings", settings_step()),
                        ("creating", creating_step()),
                        ("result", result_step()),
                        loading(),
                    ),
                    width="100%", spacing="4",
                ),
            )),
    )
