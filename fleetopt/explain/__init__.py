"""Why a plan is what it is: binding constraints and their prices, C3 terms per job and service, runner-ups,
infeasibility diagnosis and the Markdown report. The entry point is fleetopt.explain.explainer.explain."""
