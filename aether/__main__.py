"""``python -m aether``: the ``aether`` command (``ask``, ``chat``, ``demo``, ``mcp serve``)."""

import sys

from aether.cli import main

sys.exit(main())
