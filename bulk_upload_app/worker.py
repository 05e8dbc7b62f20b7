"""What `bulk-upload worker` runs (`python -m dramatiq bulk_upload_app.worker`): the jobs,
pointed at the configured queue before dramatiq starts consuming."""

from .jobs import configure, create_users, process_file

broker = configure()

__all__ = ["broker", "create_users", "process_file"]
