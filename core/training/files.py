"""The files of a run folder (weights/runs/<run>/), named once for every module that reads them.

Beside these, progress.json and the `stop` request, every background job's, are named in
core/workers/ (records.PROGRESS, process.STOP).
"""

# Written by jobs.start for a page-started run, read by its worker: the run's settings.
SETTINGS = "config.json"
# The worker's stdout and stderr.
LOG = "train.log"
