"""Two real function tools for the tools pattern: the time in a timezone and unit conversion."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_FACTORS = {  # to the base unit of each dimension
    "length": {"m": 1.0, "km": 1000.0, "cm": 0.01, "mm": 0.001, "mi": 1609.344, "ft": 0.3048, "in": 0.0254},
    "mass": {"kg": 1.0, "g": 0.001, "lb": 0.45359237, "oz": 0.028349523125},
}


def get_current_time(timezone: str) -> dict[str, Any]:
    """Returns the current local time in an IANA timezone such as 'Europe/Paris'.

    Args:
        timezone: IANA timezone name, for example 'America/New_York' or 'Asia/Tokyo'.
    """
    try:
        now = datetime.now(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return {"status": "error", "message": f"Unknown timezone {timezone!r}; use an IANA name like 'Europe/Paris'."}
    return {"status": "ok", "timezone": timezone, "time": now.strftime("%H:%M"), "date": now.date().isoformat()}


def convert_units(value: float, from_unit: str, to_unit: str) -> dict[str, Any]:
    """Converts a length, mass or temperature value between units.

    Args:
        value: The number to convert.
        from_unit: One of m, km, cm, mm, mi, ft, in, kg, g, lb, oz, C, F, K.
        to_unit: The unit to convert to, of the same kind.
    """
    if {from_unit, to_unit} <= {"C", "F", "K"}:
        celsius = {"C": value, "F": (value - 32) * 5 / 9, "K": value - 273.15}[from_unit]
        result = {"C": celsius, "F": celsius * 9 / 5 + 32, "K": celsius + 273.15}[to_unit]
        return {"status": "ok", "value": round(result, 4), "unit": to_unit}
    for factors in _FACTORS.values():
        if from_unit in factors and to_unit in factors:
            result = value * factors[from_unit] / factors[to_unit]
            return {"status": "ok", "value": round(result, 6), "unit": to_unit}
    return {"status": "error", "message": f"Cannot convert {from_unit!r} to {to_unit!r}."}


TOOLS: dict[str, Callable[..., dict[str, Any]]] = {
    "get_current_time": get_current_time,
    "convert_units": convert_units,
}
DEMO_TOOLS = tuple(TOOLS)  # the agent every surface serves: the API, `adk api_server agents`, the benchmarks
