"""``python -m collector`` runs the ``cleargif`` command line."""

from .cli import main

main()
