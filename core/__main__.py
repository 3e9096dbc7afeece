import itertools
import sys

from core import tf_logs

# --verbose acts before TensorFlow loads, and core.cli.commands imports it: so it is read here,
# among the options before the command, where its parser also accepts it.
options = itertools.takewhile(lambda arg: arg.startswith("-"), sys.argv[1:])
tf_logs.setup(verbose="--verbose" in options)

from core.cli.commands import main  # noqa: E402 - imports TensorFlow

raise SystemExit(main())
