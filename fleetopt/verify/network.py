"""Where a training dataset travels, re-derived from the instance's links (independently of the candidates).

Rules (as the planner models them): a dataset kept in `dataset_region` is copied to its job's region along the
lowest-RTT path of links; the copy runs at the path's narrowest link, every link on the path carries it within
the policy's staging window, and egress is charged per GB on every link crossed. 1 TB = 1,000 GB.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from fleetopt.io.schema import Instance

GB_PER_TB = 1000.0


def lowest_rtt_paths(inst: Instance, source: str) -> dict[str, list[int]]:
    """Per reachable region, the link indices of the lowest-RTT path from `source` (Dijkstra; among equal
    paths, the one found first when links are scanned in file order)."""
    neighbours: dict[str, list[tuple[str, float, int]]] = {r: [] for r in inst.regions}
    for i, link in enumerate(inst.links):
        if link.a in neighbours and link.b in neighbours:
            neighbours[link.a].append((link.b, link.rtt_ms, i))
            neighbours[link.b].append((link.a, link.rtt_ms, i))
    if source not in neighbours:
        return {}
    dist = {source: 0.0}
    path: dict[str, list[int]] = {source: []}
    frontier = [(0.0, source)]
    while frontier:
        d, here = heapq.heappop(frontier)
        if d > dist[here]:
            continue
        for there, rtt, i in neighbours[here]:
            if d + rtt < dist.get(there, float("inf")):
                dist[there] = d + rtt
                path[there] = path[here] + [i]
                heapq.heappush(frontier, (dist[there], there))
    return path


@dataclass(frozen=True)
class Staging:
    """A dataset's copy into one region: links crossed, GB moved, egress USD and hours (0 when local)."""

    links: tuple[int, ...]
    gb: float
    egress_usd: float
    hours: float


def dataset_staging(inst: Instance, source: str | None, region: str, dataset_tb: float) -> Staging | None:
    """How a job's dataset reaches `region`; None when no path of links joins them."""
    if source is None:
        return Staging((), 0.0, 0.0, 0.0)
    links = lowest_rtt_paths(inst, source).get(region)
    if links is None:
        return None
    if not links:
        return Staging((), 0.0, 0.0, 0.0)
    gb = dataset_tb * GB_PER_TB
    egress = gb * sum(inst.links[i].egress_usd_per_gb for i in links)
    narrowest = min(inst.links[i].gb_s for i in links)
    return Staging(tuple(links), gb, egress, gb / narrowest / 3600.0)
