"""The files of a run folder (weights/runs/<run>/), named once for every module that reads them."""

# Written by jobs.start for a page-started run, read by its worker: the run's settings.
SETTINGS = "config.json"
# Rewritten by progress.RunMonitor: phase, epoch, ETA, history, and at the end the outcome.
PROGRESS = "progress.json"
# Written by the page to ask the run to stop ("keep" or "discard"); read after each batch.
STOP = "stop"
# The worker's stdout and stderr.
LOG = "train.log"
