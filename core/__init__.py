"""catdog-gradcam's logic, importable without Streamlit (the pages, the CLI and pytest share it).

    core/config.py   every setting, one frozen dataclass        core/errors.py  UserError, one_line
    core/images.py   any photo -> upright RGB uint8             core/atomic.py  atomic writes
    core/space.py    free space, folder sizes, the free-space floor
    core/pace.py     long work's steps counted where they happen, and the time left
    core/tf_logs.py  TensorFlow's harmless stderr lines, and the filter `python -m core` and the
                     training worker pass stderr through (`python -m core --verbose`: all of them)
    core/models/     a model's whole life: what it is, how it is built, its graph read, a
                     person's file checked and imported, every kind loaded, the catalogue
    core/cams/       the CAM methods on one shared pipeline
    core/explain/    the Explainer and what the pages show: overlays, faithfulness, compare
    core/training/   the recipe and a run's lifecycle: jobs, worker, progress, lease, store
    core/data/       dataset folders, datasets from uploads, the Oxford-IIIT Pet download
    core/folder/     a folder at a glance: many photos explained by a worker, table, ZIP
    core/cli/        `python -m core`: the commands, their options, the batch side

Importing `core` is cheap: it loads no TensorFlow. It quiets TensorFlow's start-up chatter before
any module here imports TensorFlow; importing `core.models.load` registers the custom layers, so
`keras.saving.load_model(..., safe_mode=True)` opens this project's .keras files.
"""

import os

# Set before TensorFlow loads: every module that imports it is below this package. Level 2 keeps
# TensorFlow's C++ errors; the harmless ones among them are core/tf_logs.py's to leave out.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
