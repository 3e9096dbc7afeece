"""`python -m core.folder.worker JOB_DIR`: the process `jobs.start` launches for a folder run."""

import sys
from pathlib import Path

from core import tf_logs

if __name__ == "__main__":
    tf_logs.filter_stderr()  # before `run` imports TensorFlow, as the training worker does

    from core.folder import run

    progress = run.work(Path(sys.argv[1]))
    print(progress.message or progress.state)
    sys.exit(0 if progress.state in ("done", "stopped") else 1)
