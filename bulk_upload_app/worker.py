"""What `bulk-upload worker` runs (`python -m dramatiq bulk_upload_app.worker`): the jobs,
pointed at the configured queue before dramatiq starts consuming, and each worker process's
big-job lane (jobs.BigJobLane) beside the small lane dramatiq's own worker consumes."""

from .importer.processing import warm_up
from .jobs import BigJobLane, configure, create_big_batch, create_users, process_big_file, process_file
from .settings import get_settings

broker = configure()
broker.add_middleware(BigJobLane(get_settings().worker_big_threads))
warm_up()  # before the first job: its admin does not wait for the checks to load (~0.2-0.8 s)

__all__ = ["broker", "create_big_batch", "create_users", "process_big_file", "process_file"]
