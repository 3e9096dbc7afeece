"""`python -m core.training.worker RUN_DIR`: the process `jobs.start` launches for a run a page started."""

import sys
from pathlib import Path

from core.data.folders import DataError
from core.model import ModelError
from core.training import jobs

if __name__ == "__main__":
    try:
        state = jobs.work(Path(sys.argv[1]))
    except (DataError, ModelError, ValueError) as error:  # progress.json already says "failed"
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(state["message"])
    sys.exit(0 if state["state"] == "done" else 1)
