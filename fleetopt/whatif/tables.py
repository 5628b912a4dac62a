"""The terminal tables of `fleetopt whatif` and `fleetopt pareto`: one line per scenario, within the terminal
width (80 columns when it cannot tell). Numbers to four significant digits; every detail (the decisions
that changed, the gap, energy, full precision) is in the results file."""

from __future__ import annotations

import math
from collections.abc import Sequence

from fleetopt.whatif.spec import Factor, number_text

STATUS_SHORT = {"no_plan_in_time": "no plan", "bad_input": "bad input"}
FAMILY_SHORT = {"carbon_budget": "carbon", "inventory": "stock", "power_cap": "power", "storage_bw": "storage",
                "link_bw": "link", "replica_capacity": "capacity", "monitoring_coverage": "monitor",
                "monitoring_samples": "samples", "monitoring_traffic": "monitor", "monitoring_pipeline": "monitor"}


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def short_number(value, signed: bool = False) -> str:
    """Four significant digits with k / M / G for thousands, millions, billions: 151,571.83 -> 151.6k;
    solver residues (|x| < 1e-9) print as 0."""
    if _missing(value):
        return ""
    value = 0.0 if abs(value) < 1e-9 else float(value)
    sign = "+" if signed and value > 0 else ""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{sign}{value / scale:.4g}{suffix}"
    return f"{sign}{value:.4g}"


def short_families(binding: str) -> str:
    """`carbon_budget;inventory` -> `carbon stock` (each family once)."""
    names = [FAMILY_SHORT.get(f, f) for f in str(binding or "").split(";") if f]
    return " ".join(dict.fromkeys(names))


def factor_headers(factors: Sequence[Factor]) -> list[str]:
    """Each factor's column: the last part of its path (`power_cap_mw`), with the one before it when two
    factors would share it (`us-east.power_cap_mw`)."""
    last = [f.path.replace("[", ".").replace("]", "").split(".") for f in factors]
    heads = [p[-1] for p in last]
    return [".".join(p[-2:]) if heads.count(p[-1]) > 1 else p[-1] for p in last]


def _value(value, digits: int) -> str:
    if _missing(value):
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_text(value, digits)
    return str(value)


GAP = 3  # between two columns: padding, divider, padding
MIN_WIDTH = 6
FLEXIBLE_WIDTH = 20  # the text column keeps this much before the others are cut


def fitted_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], width: int,
                 right: Sequence[bool], flexible: int, wrap: bool = False):
    """A rich Table whose lines fit `width` columns: each column as wide as its widest cell; when the total
    passes the width, the `flexible` column is narrowed first, then the widest others, each cell ending in an
    ellipsis where cut (the full text is in the results file). wrap: the flexible column's text wraps onto
    more lines instead of being cut."""
    from rich import box
    from rich.table import Table

    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    excess = sum(widths) + GAP * (len(widths) - 1) - width

    def cut_flexible(down_to: int) -> None:
        nonlocal excess
        cut = min(max(excess, 0), max(0, widths[flexible] - down_to))
        widths[flexible] -= cut
        excess -= cut

    cut_flexible(FLEXIBLE_WIDTH)
    others = [i for i in range(len(widths)) if i != flexible]
    while excess > 0 and others:
        widest = max(others, key=lambda i: widths[i])
        if widths[widest] <= MIN_WIDTH:
            break
        widths[widest] -= 1
        excess -= 1
    cut_flexible(MIN_WIDTH)
    table = Table(title=title if len(title) <= width else title[:width - 3] + "...", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), show_edge=False)
    for i, (head, w, r) in enumerate(zip(headers, widths, right)):
        wraps = wrap and i == flexible
        table.add_column(head, width=w, no_wrap=not wraps, overflow="fold" if wraps else "ellipsis",
                         justify="right" if r else "left")
    for row in rows:
        table.add_row(*row)
    return table


def sweep_table(frame, factors: Sequence[Factor], columns: Sequence[str], title: str, width: int = 80,
                max_rows: int = 60):
    """One line per scenario: the factors' values, status, cost, cost against the base, carbon and the binding
    families, within `width` columns."""
    digits = [max([s.digits for s in f.settings], default=4) for f in factors]
    rows = []
    for _, row in frame.head(max_rows).iterrows():
        values = [_value(row[c], d) for c, d in zip(columns, digits)]
        if row["scenario"] == "base" and values:
            values[0] = "base"
        rows.append([*values, STATUS_SHORT.get(row["status"], row["status"]), short_number(row["cost_usd"]),
                     short_number(row["displaced_cost_usd"], signed=True), short_number(row["carbon_t"]),
                     short_families(row["binding"])])
    headers = [*factor_headers(factors), "status", "cost $", "vs base $", "carbon t", "binding"]
    right = [True] * len(factors) + [False, True, True, True, False]
    return fitted_table(title, headers, rows, width, right, flexible=len(headers) - 1)


def front_table(front, title: str, width: int = 80):
    """The Pareto front, cleanest first: budget, carbon, cost, the cost of each tonne avoided to the next
    point, and what changed against the cheapest plan (wrapped: a front has few points), within `width`."""
    records = front.to_dict("records")
    rows = []
    for i, row in enumerate(records):
        nxt = records[i + 1] if i + 1 < len(records) else None
        slope = ((row["cost_usd"] - nxt["cost_usd"]) / (nxt["carbon_t"] - row["carbon_t"])
                 if nxt and nxt["carbon_t"] > row["carbon_t"] else None)
        budget = row.get("policy.carbon_budget_t")
        rows.append(["knee" if row["knee"] else "", "none" if _missing(budget) else short_number(budget),
                     short_number(row["carbon_t"]), short_number(row["cost_usd"]), short_number(slope),
                     row["changed"] or ""])
    headers = ["", "budget t", "carbon t", "cost $", "$/t avoided", "changed (vs cheapest plan)"]
    return fitted_table(title, headers, rows, width, [False, True, True, True, True, False], flexible=5, wrap=True)
