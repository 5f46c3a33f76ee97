"""Checks of what a caller passes to the runtime: every value finite and in
its domain, or an :class:`InputError` naming the argument, the value and
what is allowed. Nothing outside the domain ever reaches a model, so no
answer is made up from nonsense (``min(100, max(0, nan))`` is 0)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

# The models' input is float32: a larger magnitude would reach them as inf.
FLOAT32_MAX = 3.4028234663852886e38
_MISSING = object()


def shown(value: object) -> str:
    """``value`` as one short line: 200 (not 200.0), nan, inf, 'text'."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool | int):
        value = float(value)
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1e16:
        digits = len(str(abs(value)))
        return f"{str(value)[:8]}... ({digits} digits)"
    text = repr(value)  # one line: newlines in a string are shown as \n
    return text if len(text) <= 60 else f"{text[:57]}..."


class InputError(ValueError):
    """A value outside its argument's domain (a usage error: the CLI exits 2).

    The message names the argument, the value and what is allowed;
    :meth:`message` spells it with another name for the argument (the CLI's
    flag, say).
    """

    def __init__(
        self,
        argument: str,
        value: object,
        allowed: str,
        template: str = "{name}={value}: expected {allowed}",
    ) -> None:
        self.argument = argument
        self.value = value
        self.allowed = allowed
        self.template = template
        super().__init__(self.message(argument))

    def message(self, name: str) -> str:
        if self.value is _MISSING:
            return f"{name} is missing: expected {self.allowed}"
        return self.template.format(
            name=name, value=shown(self.value), allowed=self.allowed
        )


def number(name: str, value: object, allowed: str) -> float:
    """``value`` as a float; InputError unless it is a real number (a bool,
    a string or an integer too large for a float is not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(name, value, allowed)
    try:
        return float(value)
    except (OverflowError, ValueError, TypeError):
        raise InputError(name, value, allowed) from None


def finite(name: str, value: object, low: float | None = None, strict=False) -> float:
    """A finite number that fits the models' float32 input, ``>= low`` (or
    ``> low`` with ``strict``)."""
    if low is None:
        allowed = "a finite number"
    else:
        allowed = f"a finite number {'>' if strict else '>='} {low:g}"
    x = number(name, value, allowed)
    out_of_domain = low is not None and (x <= low if strict else x < low)
    if not math.isfinite(x) or out_of_domain:
        raise InputError(name, value, allowed)
    if abs(x) > FLOAT32_MAX:
        raise InputError(name, value, f"{allowed}, at most {FLOAT32_MAX:.4g}")
    return x


def positive(name: str, value: object) -> float:
    """A finite number > 0."""
    return finite(name, value, 0.0, strict=True)


def in_range(name: str, value: object, low: float, high: float, what: str) -> float:
    """A finite number in [low, high]; ``what`` names the range."""
    allowed = f"a finite number in {what} [{low:g}, {high:g}]"
    x = number(name, value, allowed)
    if not (math.isfinite(x) and low <= x <= high):
        raise InputError(name, value, allowed)
    return x


def missing(name: str, allowed: str) -> InputError:
    """The error of a required value that was not given."""
    return InputError(name, _MISSING, allowed)


def one_of(name: str, value: object, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``; else InputError listing them."""
    choices = list(choices)
    if isinstance(value, str) and value in choices:
        return value
    raise InputError(
        name,
        value,
        ", ".join(choices),
        template="unknown {name} {value}; known: {allowed}",
    )
