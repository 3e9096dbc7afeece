"""A folder at a glance: many photos explained in the background, then a table, a gallery, a ZIP.

A folder run's life. The Folder page lists a folder's photos (`jobs.check`: under the data roots or
an upload, at most Config.folder_max_photos in public mode) and calls `jobs.start`. The job's
folder under Config.folder_cache_dir is named by what it computes (the model's key, each photo's
relative path, size and modification time, the method and the target), so opening the same folder
with the same model again finds its results and computes nothing. `start` launches `python -m
core.folder.worker JOB_DIR` (core/workers/process.py): its own session, niced as a training run's
worker is, holding no training lease and no page slot. The worker explains the photos in batches
and writes each batch's predictions and raw maps (`batch_<first>.npz`) and progress.json (a
core/workers/records.py FolderProgress), both atomically; a stop request (the `stop` file, as a
training run's) ends it after its batch, and a later start resumes with the photos not yet
explained. The page reads the batches into a table (`table.py`), draws overlays for the photos on
screen and builds the ZIP on a click (`export.py`).

    jobs.py    the job folder, its key, the photos allowed, uploads kept, start, stop, status
    run.py     the worker's body: batches explained and written, progress.json
    worker.py  the worker process
    table.py   the results as a table: filters, sorting, accuracy, confusion, one photo's maps
    export.py  overlays, the ZIP of overlays, raw maps, CSV and manifest
"""
