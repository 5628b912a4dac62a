"""Paths between regions over the instance's links: where a dataset can go, at what egress cost and time."""

from __future__ import annotations

import heapq

from fleetopt.io.schema import Instance

GB_PER_TB = 1000.0


def shortest_paths(inst: Instance, source: str) -> dict[str, list[int]]:
    """Lowest-RTT path (as link indices) from `source` to every reachable region (Dijkstra)."""
    adjacent: dict[str, list[tuple[str, float, int]]] = {r: [] for r in inst.regions}
    for i, link in enumerate(inst.links):
        adjacent[link.a].append((link.b, link.rtt_ms, i))
        adjacent[link.b].append((link.a, link.rtt_ms, i))
    best = {source: 0.0}
    path: dict[str, list[int]] = {source: []}
    queue = [(0.0, source)]
    while queue:
        dist, here = heapq.heappop(queue)
        if dist > best[here]:
            continue
        for there, rtt, i in adjacent[here]:
            if dist + rtt < best.get(there, float("inf")):
                best[there] = dist + rtt
                path[there] = path[here] + [i]
                heapq.heappush(queue, (best[there], there))
    return path


def dataset_routes(inst: Instance, source: str | None) -> dict[str, tuple[float, float, float]]:
    """Per reachable region: (GB moved, egress USD, transfer hours), each per TB of dataset.

    The transfer runs at the path's narrowest link; egress is charged on every link crossed.
    """
    if source is None:
        return {}
    out = {}
    for region, links in shortest_paths(inst, source).items():
        if not links:
            out[region] = (0.0, 0.0, 0.0)
            continue
        egress = sum(inst.links[i].egress_usd_per_gb for i in links) * GB_PER_TB
        narrowest = min(inst.links[i].gb_s for i in links)
        out[region] = (GB_PER_TB, egress, GB_PER_TB / narrowest / 3600.0)
    return out
