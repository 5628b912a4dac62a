"""`python -m fleetopt.cli`: the same as the `fleetopt` command."""

from fleetopt.cli import main

main()
