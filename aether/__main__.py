"""``python -m aether`` runs the demo; ``python -m aether mcp serve ...`` serves tools."""

import sys

if sys.argv[1:2] == ["mcp"]:
    from aether.mcp._serve import main as mcp_main

    sys.exit(mcp_main(sys.argv[2:]))

from aether.demo import main

main()
