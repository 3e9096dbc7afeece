"""`python -m core.training.worker RUN_DIR`: the process `jobs.start` launches for a page's run."""

import sys
from pathlib import Path

from core import tf_logs

if __name__ == "__main__":
    # train.log gets the project's lines and real errors, as the terminal does with `python -m
    # core`: the filter goes in before `jobs` imports TensorFlow.
    tf_logs.filter_stderr()

    from core.errors import UserError
    from core.training import jobs

    try:
        state = jobs.work(Path(sys.argv[1]))
    except UserError as error:  # progress.json already says "failed"
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(state.message)
    sys.exit(0 if state.state == "done" else 1)
