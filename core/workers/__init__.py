"""Background jobs: a worker process of its own, its progress record and its stop request.

Training runs and folder runs are both jobs of this kind. A page (or the CLI) starts the worker
with `process.launch`: `python -m MODULE FOLDER` in a session of its own, so page reruns and closed
tabs do not end it. The worker rewrites FOLDER/progress.json as a typed
record (`records.TrainingProgress` or `records.FolderProgress`); the page reads it back as the same
record, with `running` worked out from the worker's pid (a folder run) or from the training lease
(a training run, whose worker may be on another host). A page asks a worker to stop by writing
FOLDER/stop (`process.request_stop`), which the worker reads after each batch.

    process.py  launch, a worker's lowered priority, whether a pid lives, the stop request
    records.py  the progress records, progress.json read and written, `running` from the pid
"""
