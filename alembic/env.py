from sqlmodel import SQLModel

from alembic import context
from bulk_upload_app import models  # noqa: F401  (registers every table)
from bulk_upload_app.db import get_engine

target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    from bulk_upload_app.settings import get_settings

    context.configure(
        url=get_settings().db_url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with get_engine(context.config.attributes.get("url")).connect() as connection:
        _run(connection)


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
