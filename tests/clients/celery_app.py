"""A Celery app for the framework scenario: the Redis broker and result backend on DiskDB.
The broker URL comes from DISKDB_URL."""
import os

from celery import Celery

app = Celery("diskdb_scenario", broker=os.environ["DISKDB_URL"], backend=os.environ["DISKDB_URL"])
app.conf.update(
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    result_expires=60,
)


@app.task
def add(x, y):
    return x + y


@app.task(bind=True, max_retries=2, default_retry_delay=0.2)
def flaky(self, n):
    # Fails on its first try, so the retry path (a re-queued message) runs too.
    if self.request.retries == 0:
        raise self.retry(exc=RuntimeError("first try fails"))
    return n * 2
