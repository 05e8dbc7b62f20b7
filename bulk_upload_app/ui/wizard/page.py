"""The draft's page: the step it is at, shown with its State."""

from __future__ import annotations

import reflex as rx

from bulk_upload_app.errors import ErrorCode, message_for
from bulk_upload_app.statuses import WizardStep
from bulk_upload_app.ui.layout import admins_only, loading, page_frame
from bulk_upload_app.ui.wizard.create import creating_step, result_step
from bulk_upload_app.ui.wizard.draft import DraftState, stepper
from bulk_upload_app.ui.wizard.match import match_step
from bulk_upload_app.ui.wizard.review import review_step
from bulk_upload_app.ui.wizard.settings import settings_step


def draft_page() -> rx.Component:
    return page_frame(
        "Bulk user upload",
        admins_only(
            DraftState,
            rx.cond(
                DraftState.not_found,
                rx.callout(
                    message_for(ErrorCode.UPLOAD_NOT_FOUND),
                    icon="circle-x",
                    color_scheme="red",
                    role="alert",
                ),
                rx.vstack(
                    rx.match(
                        DraftState.step,
                        (WizardStep.MATCH, stepper(1)),
                        (WizardStep.REVIEW, stepper(2)),
                        (WizardStep.SETTINGS, stepper(3)),
                        stepper(4),
                    ),
                    rx.cond(DraftState.message != "", rx.callout(DraftState.message, icon="info", role="status")),
                    rx.match(
                        DraftState.step,
                        (WizardStep.MATCH, match_step()),
                        (WizardStep.REVIEW, review_step()),
                        (WizardStep.SETTINGS, settings_step()),
                        (WizardStep.CREATING, creating_step()),
                        (WizardStep.RESULT, result_step()),
                        loading(),
                    ),
                    width="100%",
                    spacing="4",
                ),
            ),
        ),
    )
