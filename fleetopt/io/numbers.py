"""One way to print a number, for the terminal, the Markdown report and sweep labels.

Thousands separators, a few significant digits, no scientific notation in the everyday range, and solver
residues (|x| below 1e-9 of the number's scale) printed as 0: a row at -4.552e-15 of 0 replicas is at 0.
"""

from __future__ import annotations

import math

RESIDUE = 1e-9   # relative: what a solver leaves at 1e-13 is not a quantity


def clean(x: float, scale: float = 1.0) -> float:
    """`x`, or 0.0 when it is a residue relative to max(1, |scale|)."""
    x = float(x)
    return 0.0 if abs(x) < RESIDUE * max(1.0, abs(float(scale))) else x


def num(x: float | None, sig: int = 4, scale: float = 1.0) -> str:
    """`x` to `sig` significant digits with thousands separators: 81,790 / 7.71 / 0.01424 / 0; '-' for None.

    Integers of `sig` digits or more print whole (1,743, not 1.743e+03); below 1e-4 scientific (3.2e-06).
    """
    if x is None:
        return "-"
    x = clean(x, scale)
    if x == 0.0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    magnitude = math.floor(math.log10(abs(x)))
    if abs(x) < 1e-4:
        mantissa, exponent = f"{x:.{max(sig - 1, 0)}e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"
    decimals = max(sig - 1 - magnitude, 0)
    text = f"{round(x, decimals):,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def whole(x: float | None) -> str:
    """A count: 1,743; '-' for None."""
    return "-" if x is None else f"{round(clean(x)):,}"


def money(x: float | None, sig: int = 4) -> str:
    """Dollars: $81,790, $3,149, $0.6397, -$5,960; amounts of $10,000 or more to the dollar."""
    if x is None:
        return "-"
    x = clean(x)
    body = f"{round(abs(x)):,}" if abs(x) >= 10 ** sig else num(abs(x), sig)
    return ("-$" if x < 0 else "$") + body


def pct(x: float | None, decimals: int = 1) -> str:
    """A share as a percentage: 0.4932 -> 49.3%."""
    return "-" if x is None else f"{clean(x) * 100:.{decimals}f}%"


def label(x: float) -> str:
    """A value in a sweep label or file name: 228.571 for 228.57142857142858, 300 for 300.0, 1e+06 kept short."""
    x = clean(x)
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.6g}"
