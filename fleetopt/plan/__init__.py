"""The plan layer: the Plan and Explanation data models (model.py, explanation.py), reading a solver's column
vector back into a Plan (extract.py) and the terminal summary (terminal.py).

`from fleetopt.plan import Plan` keeps working: the data model is re-exported here, and only the data model, so
importing it (verify does) pulls in neither the candidates nor the formulation.
"""

from fleetopt.plan.model import (
    Binding,
    Breakdown,
    GroupMonitoring,
    MonitoringDecision,
    Plan,
    Provenance,
    RegionUse,
    ReplicaGroup,
    Route,
    ServiceDecision,
    TimelineSummary,
    Totals,
    TrainingDecision,
)

__all__ = ["Binding", "Breakdown", "GroupMonitoring", "MonitoringDecision", "Plan", "Provenance", "RegionUse",
           "ReplicaGroup", "Route", "ServiceDecision", "TimelineSummary", "Totals", "TrainingDecision"]
