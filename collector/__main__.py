"""``python -m collector`` runs the ``cleargif`` command line."""

from .cli.main import main

main()
