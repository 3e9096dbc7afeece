"""TensorFlow's own lines on stderr: which are known to be harmless, and the filter dropping them.

TensorFlow's C++ runtime logs through absl straight to file descriptor 2, beneath Python's
`sys.stderr`. TF_CPP_MIN_LOG_LEVEL=2 (core/__init__.py) hides its INFO and WARNING lines, save
those logged before absl reads the level (which ones depends on the CPU and the build); a few
harmless lines are logged as errors, and level 3 would hide the real errors with them. So
`python -m core` and the training worker pass fd 2 through a filter instead: every line goes on
unchanged unless it matches one of HARMLESS in full. `--verbose` shows everything, level 0.

    python core/tf_logs.py   the filter itself: stdin to stdout, line by line (stdlib only)
"""

from __future__ import annotations

import atexit
import os
import re
import subprocess
import sys

# absl's record header: severity (Info, Warning, Error, Fatal), date, time, thread, file:line.
ABSL_HEADER = r"[IWEF]\d{4} [\d:.]+ +\d+ [\w.-]+:\d+\] "

# Every line TensorFlow writes to stderr that says nothing is wrong: what it is, and why harmless.
# A line is dropped only when one pattern matches all of it, so any other line from the same
# place, a real error, still prints. Which of these a machine prints depends on its CPU and on
# TensorFlow's build (oneDNN turns itself on for some CPUs, TF_ENABLE_ONEDNN_OPTS forces it), so
# they are kinds, not the lines of one machine.
HARMLESS = (
    # Info and Warning records, whatever their source: TF_CPP_MIN_LOG_LEVEL=2 asks TensorFlow to
    # hide them, and it does, except for the few logged before absl reads that level (oneDNN's
    # "custom operations are on", the CPU feature guard's "optimized to use available CPU
    # instructions"). They describe the build and the CPU, never a failure.
    r"[IW]\d{4} [\d:.]+ +\d+ [\w.-]+:\d+\] .*",
    # The second line of the CPU feature guard's record, which is one record on two lines.
    r"To enable the following instructions: [\w ]+, in other operations, rebuild TensorFlow "
    r"with the appropriate compiler flags\.",
    # absl's notice, once, before its first line: it says where log lines go, nothing about the
    # program (the line after it still prints unless it is harmless too).
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    # Once per tf.data pipeline (training's photo loader): tf.data's graph rewrite turns a
    # ParallelMapDatasetV2 node into a MapDataset and keeps its use_unbounded_threadpool
    # attribute, which MapDataset does not declare. TensorFlow ignores the attribute, as the line
    # says, and the map runs as written; it is logged at error level, so level 2 still shows it.
    ABSL_HEADER + r"NodeDef mentions attribute use_unbounded_threadpool which is not in the op "
    r"definition: .*",
    # oneDNN declining a data type on this CPU (float16 under a mixed-precision policy: "oneDNN
    # supports DT_HALF only on platforms with AVX-512"): the op runs in TensorFlow's own Eigen
    # kernel instead, as the line says. Logged at error level, though nothing failed.
    ABSL_HEADER + r"oneDNN supports DT_\w+ only on platforms with [\w-]+\. Falling back to the "
    r"default Eigen-based implementation if present\.",
)
HARMLESS_LINE = re.compile("|".join(f"(?:{pattern})" for pattern in HARMLESS).encode())


def setup(verbose: bool) -> None:
    """Before TensorFlow loads: everything it logs (`verbose`), or stderr through the filter."""
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        filter_stderr()


def filter_stderr() -> None:
    """From now on fd 2, `sys.stderr` and TensorFlow's C++ logs alike, goes through the filter.

    A filter at the file descriptor, not a logging setting: absl writes there directly, and
    neither TF_CPP_MIN_LOG_LEVEL nor TF_CPP_VMODULE (verbose levels only) can drop one error line
    and keep the others. The filter is a process, not a thread: when TensorFlow aborts the program
    (a failed CHECK), a thread would die with the lines it had not passed on yet, and those are
    the real failure; the process reads until the last writer has gone. It has a session of its
    own, so a Ctrl-C meant for the program does not cut it short. At a normal exit the program
    waits for it, so that nothing prints after the shell's prompt.
    """
    sys.stderr.flush()
    read, write = os.pipe()
    original = os.dup(2)
    process = subprocess.Popen(
        [sys.executable, "-I", __file__],
        stdin=read,
        stdout=original,
        stderr=original,
        start_new_session=True,
    )
    os.close(read)
    os.dup2(write, 2)
    os.close(write)
    atexit.register(_finish, process, original)


def _finish(process: subprocess.Popen, original: int) -> None:
    """Close this process's end of the pipe and let the filter print what it still holds."""
    sys.stderr.flush()
    os.dup2(original, 2)  # later lines (interpreter shutdown) go straight to the terminal
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # a child of this program still holds the pipe open
        pass


def forward(source, sink) -> None:
    """Copy binary `source` to `sink` line by line, leaving out the harmless lines."""
    for line in source:
        if not HARMLESS_LINE.fullmatch(line.rstrip(b"\r\n")):
            sink.write(line)
            sink.flush()


if __name__ == "__main__":
    forward(sys.stdin.buffer, sys.stdout.buffer)
