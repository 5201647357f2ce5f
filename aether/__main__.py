"""``python -m aether``: the ``aether`` command (``ask``, ``chat``, ``demo``; ``--help``)."""

import sys

from aether.cli import main

sys.exit(main())
