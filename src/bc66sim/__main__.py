"""``python -m bc66sim``: the same as the ``bc66sim`` command."""

import sys

from bc66sim.cli import main

sys.exit(main())
