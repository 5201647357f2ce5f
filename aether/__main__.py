"""``python -m aether`` runs the demo."""

from aether.demo import main

main()
