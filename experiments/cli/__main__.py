"""``python -m commissim.experiments.cli``: the same as the ``commissim`` command."""

import sys

from commissim.experiments.cli import main

sys.exit(main())
