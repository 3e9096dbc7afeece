"""The files of a run folder (weights/runs/<run>/), named once for every module that reads them.

progress.json and `stop` are every background job's (core/workers/): named there, listed here.
"""

from core.workers.process import STOP
from core.workers.records import PROGRESS

__all__ = ["LOG", "PROGRESS", "SETTINGS", "STOP"]

# Written by jobs.start for a page-started run, read by its worker: the run's settings.
SETTINGS = "config.json"
# PROGRESS: rewritten by progress.RunMonitor as a TrainingProgress (phase, epoch, ETA, history,
# and at the end the outcome); read through core/workers/records.py.
# STOP: written by the page to ask the run to stop ("keep" or "discard"); read after each batch.
# The worker's stdout and stderr.
LOG = "train.log"
