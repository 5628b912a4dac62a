"""What a sweep varies: `--set PATH=VALUES` options parsed into factors, combined as a grid or one at a time.

    PATH    dotted keys into the instance document: `policy.carbon_budget_t`, `regions.us-east.power_cap_mw`,
            `links[0].gb_s` (or `links.0.gb_s`), `regions[my.region].pue` for a key holding a dot, and `*` for
            every key of a mapping (`regions.*.power_cap_mw`).
    VALUES  a comma list (`20,40,80`), a range `a:b:n` (n evenly spaced values from a to b, both included),
            `null` to remove an optional setting, or a factor on the base value written `x2` / `x0.5:2:4`
            (every number under PATH multiplied: `serving.chat.demand_rps=x3` triples each population's demand).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fleetopt.errors import InputError, Problem, bad_argument

GRID, ONE_AT_A_TIME = "grid", "one-at-a-time"
MODES = (GRID, ONE_AT_A_TIME)
MAX_RANGE_POINTS = 10_000
LABEL_DIGITS = 4


def set_problem(option: str, message: str) -> InputError:
    """Bad input in a --set option: one line naming the option."""
    return InputError([Problem("--set", option, message)])


@dataclass(frozen=True)
class Setting:
    """One path set to one value, or scaled by a factor when `scale` is True."""

    path: str
    value: Any
    scale: bool = False
    digits: int = field(default=LABEL_DIGITS, compare=False)  # significant digits in labels

    @property
    def shown(self) -> Any:
        """The value as the results table shows it: the number, or `x2` for a factor."""
        return f"x{number_text(self.value, self.digits)}" if self.scale else self.value

    def __str__(self) -> str:
        if self.value is None:
            value = "null"
        elif _is_number(self.value) and not self.scale:
            value = number_text(self.value, self.digits)
        else:
            value = self.shown
        return f"{self.path}={value}"


@dataclass(frozen=True)
class Factor:
    """One --set option: a path and the values it takes."""

    path: str
    settings: tuple[Setting, ...]

    @property
    def numeric(self) -> bool:
        """True when every value is a plain number: the results column is then numeric."""
        return all(not s.scale and _is_number(s.value) for s in self.settings)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number_text(value: float, digits: int = LABEL_DIGITS) -> str:
    """A number for a label: whole numbers as they are, others to `digits` significant digits (never
    fewer than the integer part has): 228.57142857142858 -> 228.6."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    whole_digits = math.floor(math.log10(abs(value))) + 1 if value else 1
    return f"{float(value):.{max(digits, whole_digits)}g}"


def label_digits(values: Sequence[Any]) -> int:
    """The fewest significant digits (at least LABEL_DIGITS) that keep a factor's numbers apart in labels."""
    numbers = [v for v in values if _is_number(v)]
    for digits in range(LABEL_DIGITS, 18):
        if len({number_text(v, digits) for v in numbers}) == len(set(numbers)):
            return digits
    return 17


_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def parse_scalar(text: str) -> Any:
    """A value as typed on the command line: int, float, null/true/false, else the text itself. Plain rules on
    purpose (no YAML guessing: `no` stays the string 'no')."""
    t = text.strip()
    if _INT.match(t):
        return int(t)
    if _FLOAT.match(t):
        return float(t)
    low = t.lower()
    if low in ("null", "none", "~"):
        return None
    if low in ("true", "false"):
        return low == "true"
    return t


def _parse_number(option: str, text: str, what: str) -> float:
    value = parse_scalar(text)
    if not _is_number(value) or not math.isfinite(value):
        raise set_problem(option, f"{what} '{text}' is not a number")
    return value


def expand_range(option: str, text: str) -> list[float]:
    """`a:b:n`: n evenly spaced values from a to b, both ends included; whole numbers stay ints."""
    parts = text.split(":")
    if len(parts) != 3:
        raise set_problem(option, f"range '{text}' must be start:stop:count, e.g. 100:400:4")
    start = _parse_number(option, parts[0], "range start")
    stop = _parse_number(option, parts[1], "range stop")
    count = parse_scalar(parts[2])
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_RANGE_POINTS:
        raise set_problem(option, f"range count '{parts[2]}' must be a whole number from 1 to {MAX_RANGE_POINTS}")
    if count == 1:
        values = [float(start)]
    else:
        values = [start + (stop - start) * i / (count - 1) for i in range(count)]
    whole = all(float(v).is_integer() for v in values) and all(isinstance(v, int) for v in (start, stop))
    return [int(round(v)) for v in values] if whole else [float(v) for v in values]


def parse_values(option: str, text: str) -> list[Setting]:
    """The VALUES part of one option, as settings of `path` (filled in by the caller)."""
    if not text.strip():
        raise set_problem(option, "no values after '='; e.g. --set policy.carbon_budget_t=100,200")
    out: list[Setting] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise set_problem(option, "an empty value between commas")
        scale = item[0] in "x*" and len(item) > 1 and (item[1].isdigit() or item[1] == ".")
        body = item[1:] if scale else item
        if ":" in body:
            values = expand_range(option, body)
        elif scale:
            values = [_parse_number(option, body, "factor")]
        else:
            values = [parse_scalar(body)]
        out += [Setting("", v, scale) for v in values]
    return out


def parse_option(option: str) -> Factor:
    """One `PATH=VALUES` option as a factor (its values in the order given, repeats dropped)."""
    if "=" not in option:
        raise set_problem(option, "expected PATH=VALUES, e.g. --set policy.carbon_budget_t=100:400:4")
    path, _, text = option.partition("=")
    path = path.strip()
    split_path(path, option)  # checks the syntax now, before any solve
    seen, settings = set(), []
    for s in parse_values(option, text):
        key = (s.scale, repr(s.value))
        if key not in seen:
            seen.add(key)
            settings.append(Setting(path, s.value, s.scale))
    return with_label_digits(Factor(path, tuple(settings)))


def with_label_digits(factor: Factor) -> Factor:
    """The factor with its settings labelled at the precision that tells its values apart."""
    digits = label_digits([s.value for s in factor.settings])
    return Factor(factor.path, tuple(replace(s, digits=digits) for s in factor.settings))


_PART = re.compile(r"\[([^\]]*)\]|([^.\[\]]+)")


def split_path(path: str, option: str | None = None) -> list[str | int]:
    """`links[0].gb_s` -> ['links', 0, 'gb_s']; digits address list items, `*` every key or item."""
    where = option if option is not None else path
    if not path:
        raise set_problem(where, "empty path before '='")
    parts: list[str | int] = []
    pos = 0
    while pos < len(path):
        if path[pos] == "." and parts:
            pos += 1
        m = _PART.match(path, pos)
        if m is None or (m.group(1) is not None and m.group(1) == ""):
            raise set_problem(where, f"cannot read the path '{path}' at character {pos + 1}")
        text = m.group(1) if m.group(1) is not None else m.group(2)
        parts.append(int(text) if text.isdigit() else text)
        pos = m.end()
    return parts


def factors_from(options: Sequence[str] | Mapping[str, Any]) -> list[Factor]:
    """Factors from CLI-style strings, or from a {path: values} mapping where values is a VALUES string,
    one value, or a list of values (Python API)."""
    if isinstance(options, Mapping):
        factors = []
        for path, values in options.items():
            if isinstance(values, str):
                factors.append(parse_option(f"{path}={values}"))
            else:
                items = list(values) if isinstance(values, Iterable) else [values]
                split_path(path)
                factors.append(with_label_digits(Factor(path, tuple(Setting(path, v) for v in dict.fromkeys(items)))))
    else:
        factors = [parse_option(o) for o in options]
    paths = [f.path for f in factors]
    for path in paths:
        if paths.count(path) > 1:
            raise set_problem(path, "the same path is set twice; give all its values in one option")
    for f in factors:
        if not f.settings:
            raise set_problem(f.path, "no values")
    return factors


def scenarios(factors: Sequence[Factor], mode: str = GRID) -> list[tuple[Setting, ...]]:
    """The scenarios of a sweep, the base (no settings) not included. grid: every combination of the factors'
    values; one-at-a-time: each factor's values with every other factor left at the base."""
    if mode == GRID:
        return [tuple(combo) for combo in itertools.product(*(f.settings for f in factors))] if factors else []
    if mode == ONE_AT_A_TIME:
        return [(s,) for f in factors for s in f.settings]
    raise bad_argument("mode", f"unknown mode {mode!r}; expected {' | '.join(MODES)}")
