"""`python -m fleetopt ...`: the same as the `fleetopt` command."""

from fleetopt.cli import main

main()
