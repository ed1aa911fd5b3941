"""Registry of model classes, keyed by their ``name``."""

from __future__ import annotations

import dataclasses

__all__ = ["MODELS", "register", "get", "available", "parameter_table"]

#: registry name -> model class (a frozen dataclass implementing fixedpoint.protocol.Model)
MODELS: dict[str, type] = {}


def register(cls):
    """Class decorator: add a frozen-dataclass model to :data:`MODELS` under ``cls.name``."""
    if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:
        raise TypeError(f"{cls.__name__} must be a frozen dataclass to be registered")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__name__} needs a class attribute `name`")
    if name in MODELS and MODELS[name] is not cls:
        raise ValueError(f"a model named {name!r} is already registered ({MODELS[name].__name__})")
    MODELS[name] = cls
    return cls


def available() -> tuple[str, ...]:
    """Names of the registered models, sorted."""
    return tuple(sorted(MODELS))


def get(name: str, **params):
    """The model registered as ``name`` with the given parameters.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the available ones) or an unknown or invalid
        parameter (the model's own validation names it).
    """
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available()) or 'none'}") from None
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(params) - fields)
    if unknown:
        # a model may say where a parameter it does not take belongs (``parameter_hints``)
        hints = [getattr(cls, "parameter_hints", {}).get(k) for k in unknown]
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} for model {name!r}; "
            f"its parameters are: {', '.join(sorted(fields))}" + "".join(f" ({h})" for h in hints if h)
        )
    return cls(**params)


def parameter_table(cls, spec: dict) -> dict:
    """The value of a model's ``parameters()`` (DESIGN.md, "The model protocol").

    Parameters
    ----------
    cls : type
        A frozen-dataclass model.
    spec : dict
        ``{field name: {"doc": str, and "allowed": values or "range": (lo, hi) with "open":
        (lo_open, hi_open)}}``: what the field's validation accepts (``None`` for an unbounded
        end), taken from the same constants the validation uses.

    Returns
    -------
    dict
        ``{name: {"default": ..., **spec[name]}}`` in field order; the defaults are read from the
        dataclass fields, so they cannot drift from the constructor.

    Raises
    ------
    ValueError
        If ``spec`` does not describe exactly the model's init fields.
    """
    fields = [f for f in dataclasses.fields(cls) if f.init]
    names = [f.name for f in fields]
    if set(spec) != set(names):
        raise ValueError(f"the parameter table of {cls.__name__} must describe exactly its fields {names}, "
                         f"got {sorted(spec)}")
    table = {}
    for f in fields:
        entry = {"default": f.default, **spec[f.name]}
        for key in ("allowed", "range", "open"):
            if key in entry:
                entry[key] = tuple(entry[key])
        table[f.name] = entry
    return table
