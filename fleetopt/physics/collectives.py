"""Collective-communication costs under the alpha-beta model (latency alpha per step, bandwidth beta).

All functions take scalars or numpy arrays (broadcast together) and return float64 of the broadcast shape.
"""

import numpy as np


def ring_allreduce_traffic_factor(n):
    """Bytes each worker sends per byte of message in a ring AllReduce: 2(n-1)/n, tending to 2.

    Source: chapter, footnote 3 "Ring AllReduce" (2(N-1)M/N bytes per worker).
    """
    n = np.asarray(n, dtype=float)
    return 2.0 * (n - 1.0) / n


def ring_allreduce_time(n, message_bytes, alpha_s, beta_bytes_per_s):
    """Ring AllReduce time 2(n-1)alpha + 2(n-1)/n * M/beta; zero for n = 1.

    Source: chapter, footnote 3 "Ring AllReduce" (alpha-beta model; Sergeev & Del Balso 2018).
    """
    n = np.asarray(n, dtype=float)
    return (2.0 * (n - 1.0) * alpha_s
            + ring_allreduce_traffic_factor(n) * np.asarray(message_bytes, dtype=float) / beta_bytes_per_s)


def ring_reduce_scatter_time(n, message_bytes, alpha_s, beta_bytes_per_s):
    """Ring reduce-scatter time (n-1)alpha + (n-1)/n * M/beta: the first half of a ring AllReduce.

    Source: ring algorithms under the alpha-beta model (Thakur, Rabenseifner & Gropp 2005, MPICH collectives).
    """
    n = np.asarray(n, dtype=float)
    return (n - 1.0) * alpha_s + (n - 1.0) / n * np.asarray(message_bytes, dtype=float) / beta_bytes_per_s


def ring_allgather_time(n, message_bytes, alpha_s, beta_bytes_per_s):
    """Ring all-gather time (n-1)alpha + (n-1)/n * M/beta, M the gathered (full) size.

    Source: ring algorithms under the alpha-beta model (Thakur, Rabenseifner & Gropp 2005, MPICH collectives).
    """
    return ring_reduce_scatter_time(n, message_bytes, alpha_s, beta_bytes_per_s)


def hierarchical_allreduce_time(n, gpus_per_node, message_bytes, alpha_s, intra_bytes_per_s, inter_bytes_per_s):
    """Two-level AllReduce: reduce-scatter in node, ring AllReduce of the 1/g shard across nodes, all-gather in node.

    Equals the flat intra-node ring when n <= gpus_per_node. Nodes = n / gpus_per_node.
    Source: Thakur et al. 2005 (reduce-scatter + allreduce + allgather); chapter footnote 3 per ring.
    """
    n = np.asarray(n, dtype=float)
    g = np.asarray(gpus_per_node, dtype=float)
    m = np.asarray(message_bytes, dtype=float)
    within_node = n <= g
    g_eff = np.where(within_node, n, g)
    # Clamp so the unused branch of np.where never sees fewer than one node.
    nodes = np.maximum(n / g_eff, 1.0)
    spanning = (ring_reduce_scatter_time(g_eff, m, alpha_s, intra_bytes_per_s)
                + ring_allreduce_time(nodes, m / g_eff, alpha_s, inter_bytes_per_s)
                + ring_allgather_time(g_eff, m, alpha_s, intra_bytes_per_s))
    flat = ring_allreduce_time(n, m, alpha_s, intra_bytes_per_s)
    return np.where(within_node, flat, spanning)


def effective_inter_bandwidth(n, nic_bytes_per_s, pod_gpus, oversubscription, crossing_streams=None):
    """Per-GPU scale-out bandwidth of a collective over n GPUs: the NIC rate inside a pod; beyond it the streams
    crossing the aggregation layer share the pod's uplinks, pod_gpus x NIC / oversubscription, so each gets
    NIC x min(1, pod_gpus / (oversubscription x crossing_streams)). Without crossing_streams every GPU of the
    pod is taken to cross (NIC / oversubscription).

    Llama 3 places its parallelism so that only DP traffic crosses pods.
    Source: Dubey et al. 2024, Llama 3 Sec. 3.3 (pods of 3,072 GPUs at full bisection, aggregation 1:7).
    """
    n = np.asarray(n, dtype=float)
    nic = np.asarray(nic_bytes_per_s, dtype=float)
    pod = np.asarray(pod_gpus, dtype=float)
    streams = pod if crossing_streams is None else np.asarray(crossing_streams, dtype=float)
    share = np.minimum(1.0, np.where(np.isfinite(pod), pod, 1.0) / (oversubscription * np.maximum(streams, 1.0)))
    return np.where(n > pod, nic * share, nic)


def all_to_all_time(n, bytes_per_worker, alpha_s, beta_bytes_per_s):
    """All-to-all (pairwise exchange) time (n-1)alpha + (n-1)/n * B/beta, B the bytes each worker holds.

    Source: alpha-beta model of pairwise-exchange all-to-all (Thakur, Rabenseifner & Gropp 2005).
    """
    n = np.asarray(n, dtype=float)
    return (n - 1.0) * alpha_s + (n - 1.0) / n * np.asarray(bytes_per_worker, dtype=float) / beta_bytes_per_s


def communication_energy_j(bits, pj_per_bit):
    """Energy to move `bits` at `pj_per_bit` picojoules per bit, in joules.

    Source: chapter, Napkin Math 1.2 "The physics of better fabrics" (10 -> 5 pJ/bit = 2x).
    """
    return np.asarray(bits, dtype=float) * np.asarray(pj_per_bit, dtype=float) * 1e-12
