"""What-if studies: sweeps over instance paths (spec, scenario), a resumable results store, executors with warm
starts (run), the Pareto front of cost against carbon (pareto) and plots. Entry point: fleetopt.sweep."""
