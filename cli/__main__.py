"""`python -m orbridge.cli` is the `orbridge` command."""

from .entry import main

main()
