"""Fleet-stack efficiency accounting: gains from independent layers compose by multiplication."""

from functools import reduce

import numpy as np


def residual_gain(target, *factors):
    """Gain still owed by the remaining layer: target / product(factors).

    Source: chapter, Napkin Math 1.1 "Fleet-stack efficiency accounting" (100x / (4 x 2.5) = 10x).
    """
    return np.asarray(target, dtype=float) / reduce(np.multiply, factors, 1.0)


def additive_residual(target, *factors):
    """The wrong, additive reading: target - sum(factors); kept to show the contrast.

    Source: chapter, Self-Check answer on Napkin Math 1.1 (4 + 2.5 = 6.5x -> orchestration ~93.5x).
    """
    return np.asarray(target, dtype=float) - reduce(np.add, factors, 0.0)
