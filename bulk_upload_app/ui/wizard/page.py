"""The draft's page: the step it is at, shown with its State."""

from __future__ import annotations

import reflex as rx

from ...importer.errors import ErrorCode, message_for
from ..layout import admins_only, loading, page_frame
from .create import creating_step, result_step
from .draft import DraftState, stepper
from .match import match_step
from .review import review_step
from .settings import settings_step


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
                        ("match", stepper(1)),
                        ("review", stepper(2)),
                        ("settings", stepper(3)),
                        stepper(4),
                    ),
                    rx.cond(DraftState.message != "", rx.callout(DraftState.message, icon="info", role="status")),
                    rx.match(
                        DraftState.step,
                        ("match", match_step()),
                        ("review", review_step()),
                        ("settings", settings_step()),
                        ("creating", creating_step()),
                        ("result", result_step()),
                        loading(),
                    ),
                    width="100%",
                    spacing="4",
                ),
            ),
        ),
    )
