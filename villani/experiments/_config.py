r"""``villani run CONFIG.toml``: a sweep described in TOML, validated key by key.

A config has the sections ``network``, ``data``, ``loss``, ``dynamics``, ``grid`` and
the top-level keys ``seeds``, ``out``, ``key``, ``chunk`` (see ``examples/sweep.toml``).
Every problem is reported as ``section.key: expected ..., got ...``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ConfigError", "load_config", "validate_config", "make_run", "run_config"]


class ConfigError(ValueError):
    """An invalid run config; the message starts with the offending key."""


# -- value checkers: return the normalised value or raise ConfigError(where: ...) ------------


def _pos_int(where, v):
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ConfigError(f"{where}: expected a positive int, got {v!r}")
    return v


def _nonneg_int(where, v):
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ConfigError(f"{where}: expected an int >= 0, got {v!r}")
    return v


def _real(where, v, lo=-math.inf, lo_open=False, hi=math.inf, hi_open=False, what="a number"):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(f"{where}: expected {what}, got {v!r}")
    if v < lo or (lo_open and v == lo) or v > hi or (hi_open and v == hi):
        raise ConfigError(f"{where}: expected {what}, got {v!r}")
    return float(v)


def _pos_float(where, v):
    return _real(where, v, 0.0, True, what="a positive number")


def _nonneg_float(where, v):
    return _real(where, v, 0.0, what="a number >= 0")


def _momentum(where, v):
    return _real(where, v, 0.0, False, 1.0, True, what="a momentum in [0, 1)")


def _cond(where, v):
    return _real(where, v, 1.0, what="a condition number >= 1")


def _bool(where, v):
    if not isinstance(v, bool):
        raise ConfigError(f"{where}: expected true or false, got {v!r}")
    return v


def _choice(*options):
    def check(where, v):
        if v not in options:
            raise ConfigError(f"{where}: expected one of {', '.join(map(repr, options))}, got {v!r}")
        return v
    return check


def _activation(where, v):
    from .. import nets

    return _choice(*nets.ACTIVATIONS)(where, v)


def _widths(where, v):
    if not isinstance(v, list) or not v:
        raise ConfigError(f"{where}: expected a non-empty list of positive ints, got {v!r}")
    return [_pos_int(f"{where}[{i}]", w) for i, w in enumerate(v)]


def _seeds(where, v):
    if isinstance(v, int) and not isinstance(v, bool):
        return _pos_int(where, v)
    if not isinstance(v, list) or not v:
        raise ConfigError(f"{where}: expected a number of seeds or a non-empty list of ints >= 0, got {v!r}")
    return [_nonneg_int(f"{where}[{i}]", s) for i, s in enumerate(v)]


def _str(where, v):
    if not isinstance(v, str) or not v:
        raise ConfigError(f"{where}: expected a non-empty string, got {v!r}")
    return v


# section -> key -> (checker, default); a default of REQUIRED must be given.
REQUIRED = object()
SCHEMA: dict[str, dict[str, tuple[Callable, Any]]] = {
    "": {"seeds": (_seeds, REQUIRED), "out": (_str, None), "key": (_nonneg_int, 0),
         "chunk": (_pos_int, None)},
    "network": {"kind": (_choice("two_layer", "mlp"), "two_layer"), "width": (_pos_int, 64),
                "widths": (_widths, None), "activation": (_activation, "tanh"),
                "parametrization": (_choice("ntk", "standard"), "ntk"), "bias": (_bool, False),
                "train_outer": (_bool, True)},
    "data": {"kind": (_choice("teacher_student", "random_labels", "linearly_independent",
                               "gaussian_mixture", "breast_cancer", "digits"), "teacher_student"),
             "n": (_pos_int, 64), "d": (_pos_int, 8), "seed": (_nonneg_int, 0),
             "noise": (_nonneg_float, 0.0), "teacher_width": (_pos_int, 4),
             "condition": (_cond, 1.0), "separation": (_pos_float, 2.0),
             "positive": (_nonneg_int, 0), "negative": (_nonneg_int, 1)},
    "loss": {"kind": (_choice("squared", "logistic"), "squared"), "l2": (_nonneg_float, 0.0)},
    "dynamics": {"optimizer": (_choice("gd", "sgd", "nesterov", "heavy_ball"), "gd"),
                 "lr": (_pos_float, REQUIRED), "momentum": (_momentum, 0.9),
                 "steps": (_pos_int, 100), "every": (_pos_int, 1), "batch_size": (_pos_int, None),
                 "replace": (_bool, False), "max_loss": (_pos_float, None)},
}
# Keys whose values leave shapes alone: the sweep vmaps them; every other grid axis is looped.
VMAPPABLE = ("dynamics.lr", "dynamics.momentum", "loss.l2")
# Keys that only some kinds use.
ONLY_FOR = {
    "network.width": ("kind", ("two_layer",)), "network.train_outer": ("kind", ("two_layer",)),
    "network.widths": ("kind", ("mlp",)),
    "data.noise": ("kind", ("teacher_student",)), "data.teacher_width": ("kind", ("teacher_student",)),
    "data.condition": ("kind", ("linearly_independent",)),
    "data.separation": ("kind", ("gaussian_mixture",)),
    "data.n": ("kind", ("teacher_student", "random_labels", "linearly_independent", "gaussian_mixture")),
    "data.d": ("kind", ("teacher_student", "random_labels", "linearly_independent", "gaussian_mixture")),
    "data.positive": ("kind", ("digits",)), "data.negative": ("kind", ("digits",)),
    "dynamics.momentum": ("optimizer", ("nesterov", "heavy_ball")),
    "dynamics.batch_size": ("optimizer", ("sgd",)), "dynamics.replace": ("optimizer", ("sgd",)),
}


def load_config(path: str) -> dict[str, Any]:
    """Parse a TOML file (``tomllib``) and validate it.

    Raises:
        ConfigError: unreadable TOML or an invalid key (the message names it).
    """
    import tomllib
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    return validate_config(raw)


def _grid_key(name: str) -> str:
    if "." in name:
        section, key = name.split(".", 1)
        if section not in SCHEMA or not section or key not in SCHEMA[section]:
            raise ConfigError(f"grid.{name}: unknown parameter; grid axes name a key of network, "
                              "data, loss or dynamics, e.g. 'dynamics.lr' or 'network.width'")
        return name
    hits = [f"{s}.{name}" for s in SCHEMA if s and name in SCHEMA[s]]
    if not hits:
        raise ConfigError(f"grid.{name}: unknown parameter; grid axes name a key of network, "
                          "data, loss or dynamics, e.g. 'lr' or 'network.width'")
    if len(hits) > 1:
        raise ConfigError(f"grid.{name}: ambiguous, write one of {', '.join(hits)}")
    return hits[0]


def validate_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check every key of a parsed config and fill in the defaults.

    Returns:
        ``{"network": {...}, "data": {...}, "loss": {...}, "dynamics": {...},
        "grid": {"dotted.key": [values]}, "axes": {axis name: dotted key}, "seeds", "out",
        "key", "chunk"}``.

    Raises:
        ConfigError: naming the offending key, e.g. ``network.width: expected a positive
        int, got 'x'``.
    """
    known_sections = [s for s in SCHEMA if s] + ["grid"]
    cfg: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, dict) and name not in known_sections:
            raise ConfigError(f"{name}: unknown section; known sections: {', '.join(known_sections)}")
        if not isinstance(value, dict) and name not in SCHEMA[""]:
            raise ConfigError(f"{name}: unknown top-level key; known: {', '.join(SCHEMA[''])}")
        if name in known_sections and not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a table [{name}], got {value!r}")
    for key, (check, default) in SCHEMA[""].items():
        if key in raw:
            cfg[key] = check(key, raw[key])
        elif default is REQUIRED:
            raise ConfigError(f"{key}: required, e.g. {key} = 8")
        else:
            cfg[key] = default
    for section in (s for s in SCHEMA if s):
        given = raw.get(section, {})
        out = {}
        for key, value in given.items():
            if key not in SCHEMA[section]:
                raise ConfigError(f"{section}.{key}: unknown key; known keys: {', '.join(SCHEMA[section])}")
            out[key] = SCHEMA[section][key][0](f"{section}.{key}", value)
        for key, (_, default) in SCHEMA[section].items():
            if key not in out:
                if default is REQUIRED:
                    raise ConfigError(f"{section}.{key}: required")
                out[key] = default
        cfg[section] = out
    grid, axes = {}, {}
    for name, values in raw.get("grid", {}).items():
        dotted = _grid_key(name)
        if not isinstance(values, list) or not values:
            raise ConfigError(f"grid.{name}: expected a non-empty list of values, got {values!r}")
        section, key = dotted.split(".", 1)
        check = SCHEMA[section][key][0]
        grid[dotted] = [check(f"grid.{name}[{i}]", v) for i, v in enumerate(values)]
        if dotted in axes.values():
            raise ConfigError(f"grid.{name}: {dotted} is already a grid axis")
        axes[name] = dotted
    cfg["grid"], cfg["axes"] = grid, axes
    # keys that only make sense for some kinds, given explicitly or on the grid
    for dotted, (field, kinds) in ONLY_FOR.items():
        section, key = dotted.split(".", 1)
        used = key in raw.get(section, {}) or dotted in grid
        if used and cfg[section][field] not in kinds:
            raise ConfigError(f"{dotted}: not used when {section}.{field} = {cfg[section][field]!r} "
                              f"(only for {', '.join(map(repr, kinds))})")
    if cfg["dynamics"]["optimizer"] == "sgd" and cfg["dynamics"]["batch_size"] is None:
        raise ConfigError("dynamics.batch_size: required for optimizer 'sgd' (use 'gd' for full batch)")
    if cfg["network"]["kind"] == "mlp" and cfg["network"]["widths"] is None:
        raise ConfigError("network.widths: required for network.kind = 'mlp', e.g. widths = [32, 32]")
    return cfg


def _with(cfg: Mapping[str, Any], point: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out = {s: dict(cfg[s]) for s in SCHEMA if s}
    for axis, value in point.items():
        section, key = cfg["axes"][axis].split(".", 1)
        out[section][key] = value
    return out


# the config's network.kind names a builder; the network it builds then owns its structure
# (no diagnostic looks at this name)
_NETWORKS = {
    "two_layer": lambda nets, c: nets.two_layer(c["width"], c["activation"],
                                                parametrization=c["parametrization"],
                                                train_outer=c["train_outer"], bias=c["bias"]),
    "mlp": lambda nets, c: nets.mlp(c["widths"], c["activation"], parametrization=c["parametrization"],
                                    bias=c["bias"]),
}


def make_run(cfg: Mapping[str, Any]) -> Callable[[dict[str, Any], Any], Any]:
    """The pure ``run(point, key) -> Trajectory`` of a validated config, for :func:`sweep`.

    ``point`` maps grid axis names to values; the seed's key is split into the
    initialisation key and the minibatch key. The data set is drawn from
    ``data.seed`` and is the same for every seed.
    """
    import jax

    from .. import data as data_mod
    from .. import nets, optim
    from ..dynamics import train
    from ..losses import Objective

    def run(point, key):
        c = _with(cfg, point)
        net_c, data_c, dyn = c["network"], c["data"], c["dynamics"]
        net = _NETWORKS[net_c["kind"]](nets, net_c)
        kd = jax.random.key(data_c["seed"])
        kind, n, d = data_c["kind"], data_c["n"], data_c["d"]
        if kind == "teacher_student":
            ds = data_mod.teacher_student(kd, nets.two_layer(data_c["teacher_width"], net_c["activation"]),
                                          n, d, noise=data_c["noise"])
        elif kind == "random_labels":
            ds = data_mod.random_labels(kd, n, d)
        elif kind == "linearly_independent":
            ds = data_mod.linearly_independent(kd, n, d, data_c["condition"])
        elif kind == "gaussian_mixture":
            ds = data_mod.gaussian_mixture(kd, n, d, data_c["separation"])
        elif kind == "breast_cancer":
            ds = data_mod.breast_cancer()
        else:
            ds = data_mod.digits(data_c["positive"], data_c["negative"])
        obj = Objective(net, ds, loss=c["loss"]["kind"], l2=c["loss"]["l2"])
        opt_name = dyn["optimizer"]
        if opt_name in ("gd", "sgd"):
            opt = getattr(optim, opt_name)(dyn["lr"])
        else:
            opt = getattr(optim, opt_name)(dyn["lr"], dyn["momentum"])
        k_init, k_train = jax.random.split(key)
        params = net.init(k_init, ds.x.shape[1])
        return train(obj, opt, params, dyn["steps"], key=k_train, batch_size=dyn["batch_size"],
                     every=dyn["every"], replace=dyn["replace"], max_loss=dyn["max_loss"])

    return run


def run_config(cfg: Mapping[str, Any], *, out: str | None = None, progress: bool | None = None):
    """Run a validated config as a :func:`~villani.experiments.sweep.sweep`; returns the
    :class:`~villani.experiments.SweepTable` (grid columns named as in ``[grid]``)."""
    import jax

    from .sweep import sweep

    grid = {axis: cfg["grid"][dotted] for axis, dotted in cfg["axes"].items()}
    static = [axis for axis, dotted in cfg["axes"].items() if dotted not in VMAPPABLE]
    meta = {k: cfg[k] for k in ("network", "data", "loss", "dynamics")}
    meta["axes"] = cfg["axes"]
    return sweep(make_run(cfg), grid, cfg["seeds"], key=jax.random.key(cfg["key"]),
                 out=out if out is not None else cfg["out"], chunk=cfg["chunk"],
                 progress=progress, static_axes=static, meta=meta)
