"""What `bulk-upload worker` runs (`python -m dramatiq bulk_upload_app.worker --queues ...`): the
jobs, pointed at the configured queue before dramatiq starts consuming the queues it was given."""

from bulk_upload_app.jobs import configure, create_big_batch, create_users, process_big_file, process_file
from bulk_upload_app.uploads.processing import warm_up

broker = configure()
warm_up()  # before the first job: its admin does not wait for the checks to load (~0.2-0.8 s)

__all__ = ["broker", "create_big_batch", "create_users", "process_big_file", "process_file"]
