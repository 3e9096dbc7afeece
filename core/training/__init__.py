"""Training: the fine-tuning recipe and the life of a run.

A run's lifecycle. The Training page calls `jobs.start`, which checks the dataset and backbone,
takes the lease (weights/train.lock, `lease.py`), writes the run's settings into a new run folder
(`store.py`) and launches `python -m core.training.worker RUN_DIR` (core/workers/process.py): a
process of its own, so page reruns and closed tabs do not stop it. The CLI's `jobs.train` does the
same in its own process. The worker runs `run.py`'s steps (scan, build, train with `recipe.py`,
report, save, publish), renewing the lease's heartbeat. Its `progress.RunMonitor` rewrites
progress.json, a core/workers/records.py TrainingProgress (phase, epoch, ETA, history), and
`watch.py` the maps of a few photos after each epoch; the page polls both. The page asks a run to
stop by writing a `stop` file in its folder, which the monitor reads after each batch. A finished
run's model is published, when `publishing.py` says it is better on the same validation photos (or
the person asks), by switching `weights/current` in one rename.

    recipe.py  TrainConfig and the two phases      run.py     a run as named steps
    report.py  the validation report (K classes)   publishing.py  which run becomes current
    jobs.py    start, train, the worker's body      worker.py  the worker process
    progress.py  the monitor: progress, stopping    watch.py   maps epoch by epoch
    lease.py   one run at a time, across hosts      store.py   run folders, `current`, pruning
    status.py  what the page shows of a run         access.py  who may train (public mode)
    files.py   the names of a run folder's files
"""
