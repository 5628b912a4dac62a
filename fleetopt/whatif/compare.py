"""What a scenario moves against the base plan: the displaced cost and carbon, and the decisions that changed."""

from __future__ import annotations


def changed_against(base: dict, other: dict) -> str:
    """Key decisions that differ from the base plan, one clause each: `job: us-east x128 -> eu-north x256`,
    `service: us-east 8->2, us-west 0->4 GPUs`."""
    if not base or not other:
        return ""
    out = []
    for job, before in base.get("training", {}).items():
        after = other.get("training", {}).get(job, {})
        moved = [k for k in before if after.get(k) != before[k]]  # only what differs: `us-east -> eu-north`
        if moved:
            out.append(f"{job}: {' '.join(str(before[k]) for k in moved)} -> "
                       f"{' '.join(str(after.get(k)) for k in moved)}")
    for service, before in base.get("serving", {}).items():
        after = other.get("serving", {}).get(service, {})
        moves = [f"{r} {before.get(r, 0)}->{after.get(r, 0)}" for r in sorted(set(before) | set(after))
                 if before.get(r, 0) != after.get(r, 0)]
        if moves:
            out.append(f"{service}: {', '.join(moves)} GPUs")
    return "; ".join(out)


def add_base_relative(row: dict, base_row: dict | None, base_decisions: dict, decisions: dict) -> None:
    """The displaced cost: what a scenario moves against the base plan, in USD, t CO2e and decisions."""
    if base_row is None or row.get("cost_usd") is None or base_row.get("cost_usd") is None:
        return
    row["displaced_cost_usd"] = row["cost_usd"] - base_row["cost_usd"]
    row["displaced_carbon_t"] = row["carbon_t"] - base_row["carbon_t"]
    row["changed"] = changed_against(base_decisions, decisions)
