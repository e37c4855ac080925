"""Atomic files, environment metadata and the on-disk layout of a sweep's ``out/``."""

from __future__ import annotations

import dataclasses
import datetime
import fcntl
import functools
import hashlib
import importlib.metadata as md
import io
import json
import os
import pathlib
import re
import secrets
import subprocess
import types
import warnings
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["OutDirError", "OutDirMismatch", "OutDirLocked", "OutDir", "code_fingerprint",
           "atomic_write_bytes", "atomic_write_text", "environment", "git_revision", "jsonable",
           "config_hash", "save_npz", "load_npz", "npz_bytes", "npz_from_bytes", "cell_name"]


class OutDirError(ValueError):
    """``out/`` cannot hold this sweep (the message names the directory and why)."""


class OutDirMismatch(OutDirError):
    """``out/`` holds a sweep with a different config (the message names what differs)."""


class OutDirLocked(OutDirError):
    """Another sweep holds the lock on ``out/``."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never
    a half-written one (temp file in the same directory, fsync, ``os.replace``). The file
    gets the permissions of any new file (``0o666`` less the umask)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # os.open with mode 0o666 lets the kernel apply the umask (mkstemp would force 0o600)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def npz_bytes(arrays: Mapping[str, Any]) -> bytes:
    """Arrays as the bytes of an (uncompressed) NPZ file."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def npz_from_bytes(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of NPZ bytes (:func:`npz_bytes`), loaded into memory."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def save_npz(path: str | os.PathLike, arrays: Mapping[str, Any]) -> None:
    """Atomically save arrays as an (uncompressed) NPZ file at exactly ``path``."""
    atomic_write_bytes(path, npz_bytes(arrays))


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every array of an NPZ file into memory."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def jsonable(x: Any) -> Any:
    """``x`` as plain JSON types (NumPy scalars/arrays to Python, other objects to repr)."""
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (bool, int, float, str)) or x is None:
        return x
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray) or hasattr(x, "__array__"):
        try:
            return np.asarray(x).tolist()
        except Exception:  # noqa: BLE001 - fall back to repr for exotic arrays (keys)
            pass
    return repr(x)


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 (first 16 hex digits) of the canonical JSON of ``config``."""
    text = json.dumps(jsonable(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def git_revision(start: str | os.PathLike | None = None) -> str | None:
    """The git commit of the checkout holding ``start`` (default: villani's source), with a
    ``+dirty`` suffix for uncommitted changes; ``None`` outside a checkout."""
    where = pathlib.Path(start) if start else pathlib.Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                             text=True, timeout=10)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=where, capture_output=True, text=True, timeout=10)
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment(devices: Any = None) -> dict[str, Any]:
    """Versions of villani and its numerical stack, the devices, float64, git revision."""
    import jax

    versions = {}
    for pkg in ("villani", "jax", "jaxlib", "optax", "diffrax", "matfree", "numpy"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    devices = list(devices) if devices is not None else jax.devices()
    return {
        "versions": versions,
        "device_kind": devices[0].device_kind if devices else None,
        "platform": devices[0].platform if devices else None,
        "device_count": len(devices),
        "process_count": jax.process_count(),
        "float64": bool(jax.config.jax_enable_x64),
        "git": git_revision(),
    }


def device_label(env: Mapping[str, Any]) -> str:
    """A short device description for figure footnotes, e.g. ``"cpu (8 devices)"``."""
    kind = env.get("device_kind") or env.get("platform") or "unknown device"
    n = env.get("device_count", 1)
    return f"{kind}" + (f" ×{n}" if n and n > 1 else "")


# --------------------------------------------------------------------------------------
# the out/ directory of a sweep


def cell_name(i: int, cfg: Mapping[str, Any]) -> str:
    label = "-".join(f"{k}={v}" for k, v in cfg.items()) or "all"
    return f"{i:05d}_" + re.sub(r"[^A-Za-z0-9._=+-]", "_", label)[:120] + ".npz"


def _describe_differences(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    diffs = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k, "<absent>"), new.get(k, "<absent>")
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            diffs += _describe_differences(a, b, f"{prefix}{k}.")
        elif a != b:
            diffs.append(f"{prefix}{k}: stored {a!r}, given {b!r}")
    return diffs


# --------------------------------------------------------------------------------------
# the identity of run's code

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _root_module(fn: Any) -> str | None:
    while True:
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif isinstance(fn, types.MethodType):
            fn = fn.__func__
        elif hasattr(fn, "__wrapped__"):
            fn = fn.__wrapped__
        else:
            break
    if isinstance(fn, types.FunctionType):
        return fn.__module__
    return type(fn).__module__


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _global_names(c)
    return names


def _fingerprint(x: Any, out: list[str], seen: set[int], root: str | None, depth: int) -> None:
    if depth > 12:
        out.append("<deep>")
        return
    if x is None or isinstance(x, (bool, int, float, complex, str, bytes)):
        out.append(f"{type(x).__name__}:{x!r}")
        return
    if isinstance(x, types.ModuleType):
        out.append(f"module:{x.__name__}")
        return
    if isinstance(x, (types.BuiltinFunctionType, types.BuiltinMethodType)):
        out.append(f"builtin:{getattr(x, '__module__', None)}.{x.__qualname__}")
        return
    if id(x) in seen:
        out.append("<cycle>")
        return
    seen.add(id(x))
    d = depth + 1
    if isinstance(x, types.CodeType):
        out.append(f"code:{x.co_name}:{x.co_argcount}:{x.co_kwonlyargcount}:{x.co_flags}")
        out += [x.co_code.hex(), repr(x.co_names), repr(x.co_varnames), repr(x.co_freevars)]
        for c in x.co_consts:
            _fingerprint(c, out, seen, root, d)
    elif isinstance(x, type):
        out.append(f"type:{x.__module__}.{x.__qualname__}")
        if x.__module__ == root:  # a class of run's own module: its methods too
            _fingerprint({k: v for k, v in vars(x).items() if not k.startswith("__")}, out, seen, root, d)
    elif isinstance(x, functools.partial):
        out.append("partial")
        for part in (x.func, x.args, x.keywords):
            _fingerprint(part, out, seen, root, d)
    elif isinstance(x, types.MethodType):
        out.append("method")
        _fingerprint(x.__func__, out, seen, root, d)
        _fingerprint(x.__self__, out, seen, root, d)
    elif isinstance(x, types.FunctionType):
        out.append(f"function:{x.__module__}.{x.__qualname__}")
        if x.__module__ != root:  # library code is identified by name (and its version)
            return
        _fingerprint(x.__code__, out, seen, root, d)
        _fingerprint(x.__defaults__, out, seen, root, d)
        _fingerprint(x.__kwdefaults__, out, seen, root, d)
        for name, cell in zip(x.__code__.co_freevars, x.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                value = "<empty cell>"
            out.append(f"closure:{name}")
            _fingerprint(value, out, seen, root, d)
        for name in sorted(_global_names(x.__code__)):
            if name in x.__globals__:
                out.append(f"global:{name}")
                _fingerprint(x.__globals__[name], out, seen, root, d)
    elif isinstance(x, (np.ndarray, np.generic)) or type(x).__module__.startswith(("jax", "jaxlib")) \
            and hasattr(x, "dtype") and hasattr(x, "shape"):
        try:
            import jax

            if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
                x = jax.random.key_data(x)
            arr = np.asarray(x)
            out.append(f"array:{arr.dtype}:{arr.shape}:{hashlib.sha256(arr.tobytes()).hexdigest()}")
        except Exception:  # noqa: BLE001 - a tracer or an exotic array: its type and shape
            out.append(f"array:{type(x).__name__}:{getattr(x, 'dtype', '?')}:{getattr(x, 'shape', '?')}")
    elif isinstance(x, (list, tuple)):
        out.append(f"{type(x).__name__}[{len(x)}]")
        for v in x:
            _fingerprint(v, out, seen, root, d)
    elif isinstance(x, (set, frozenset)):
        parts = []
        for v in x:
            sub: list[str] = []
            _fingerprint(v, sub, seen, root, d)
            parts.append("|".join(sub))
        out.append(f"set:{sorted(parts)}")
    elif isinstance(x, Mapping):
        items = []
        for k, v in x.items():
            ks: list[str] = []
            vs: list[str] = []
            _fingerprint(k, ks, seen, root, d)
            _fingerprint(v, vs, seen, root, d)
            items.append(("|".join(ks), "|".join(vs)))
        out.append(f"{type(x).__name__}:{sorted(items)}")
    elif dataclasses.is_dataclass(x):
        out.append(f"dataclass:{type(x).__module__}.{type(x).__qualname__}")
        for f in dataclasses.fields(x):
            out.append(f.name)
            _fingerprint(getattr(x, f.name, None), out, seen, root, d)
    elif callable(x) and hasattr(x, "__wrapped__"):  # jax.jit, functools.wraps
        out.append(f"wrapped:{type(x).__name__}")
        _fingerprint(x.__wrapped__, out, seen, root, d)
    elif hasattr(x, "__dict__"):
        out.append(f"object:{type(x).__module__}.{type(x).__qualname__}")
        _fingerprint(type(x), out, seen, root, d)
        _fingerprint(dict(vars(x)), out, seen, root, d)
    else:
        out.append(f"{type(x).__module__}.{type(x).__qualname__}:{_ADDRESS.sub('', repr(x))}")


def code_fingerprint(run: Any) -> str:
    """A hash (16 hex digits) of what ``run`` computes, as far as Python can see it.

    Covers ``run``'s bytecode, constants and names, recursively its nested code objects,
    its default arguments, the values of its closure cells and of the globals it names,
    and recursively every function, class and callable among those values that is
    defined in ``run``'s own module (functions of other modules, villani's and JAX's
    included, are identified by their qualified name: their versions are recorded
    separately). Arrays count by dtype, shape and bytes; other objects by their fields.
    Changing the body of ``run``, a constant in it, or a value it closes over changes the
    fingerprint.
    """
    parts: list[str] = []
    _fingerprint(run, parts, set(), _root_module(run), 0)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------
# one sweep's out/ directory: lock, sweep.json, cells

CELL_HASH = "__config_hash__"
# settings that change the numbers a cell holds; a resume must match them
_COMPARED = {"float64": ("float64",), "jax": ("versions", "jax"), "jaxlib": ("versions", "jaxlib")}


def _env_value(env: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    for p in path:
        env = env.get(p) if isinstance(env, Mapping) else None
    return env


class OutDir:
    """The writer's handle on a sweep's ``out/``: holds an exclusive lock on ``out/.lock``
    from creation to :meth:`close`, checks a stored ``sweep.json`` against this sweep,
    writes ``sweep.json`` with the first finished cell, and stamps every cell file with
    the config hash.

    Raises (from the constructor):
        OutDirLocked: another process holds the lock.
        OutDirMismatch: ``out/`` holds a sweep with another config, run code, float64
            setting or jax/jaxlib version (the message names what differs).
        OSError: ``out/`` cannot be created or written (the message names it).
    """

    def __init__(self, out: str | os.PathLike, config: dict[str, Any], env: dict[str, Any]):
        self.path = pathlib.Path(out)
        self.config = jsonable(config)
        self.digest = config_hash(self.config)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock = open(self.path / ".lock", "a")  # noqa: SIM115 - held until close()
        except OSError as e:
            err = type(e)(f"out: cannot create or write the directory {str(self.path)!r}: "
                          f"{e.strerror or e}")
            err.errno = e.errno
            raise err from None
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise OutDirLocked(
                f"out: {str(self.path)!r} is in use by another sweep (it holds the lock "
                f"{str(self.path / '.lock')!r}); wait for it to finish or use another out directory"
            ) from None
        try:
            self.meta, self._meta_written = self._check(env)
        except BaseException:
            self.close()
            raise

    def _cells(self) -> list[pathlib.Path]:
        return sorted((self.path / "cells").glob("*.npz"))

    def _check(self, env: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        meta_path = self.path / "sweep.json"
        fresh = {"config": self.config, "config_hash": self.digest, "environment": env,
                 "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        if not meta_path.exists() or not self._cells():
            # nothing finished to protect (an earlier attempt failed before its first cell):
            # this sweep's sweep.json replaces it with its first finished cell
            return fresh, False
        where = repr(str(self.path))
        try:
            stored = json.loads(meta_path.read_text())
            if not isinstance(stored, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as e:
            raise OutDirMismatch(f"out: {str(meta_path)!r} is unreadable ({e}); cannot tell which sweep "
                                 f"the cells in {where} belong to. Use another out directory, or delete "
                                 "this one to start afresh.") from None
        if stored.get("config_hash") != self.digest or stored.get("config") != self.config:
            diffs = _describe_differences(stored.get("config", {}), self.config)
            hint = ""
            if any(d.startswith("run_code:") for d in diffs):
                hint = (" The code of run (or a value it closes over) changed since these cells were "
                        "computed.")
            raise OutDirMismatch(
                f"out: {where} holds a different sweep (config hash {stored.get('config_hash')}, "
                f"this one {self.digest}); it differs in: " + "; ".join(diffs or ["<unknown>"])
                + f".{hint} Use another out directory, or delete this one to start afresh.")
        old_env = stored.get("environment", {})
        diffs = [f"{name}: stored {_env_value(old_env, path)!r}, now {_env_value(env, path)!r}"
                 for name, path in _COMPARED.items() if _env_value(old_env, path) != _env_value(env, path)]
        if diffs:
            raise OutDirMismatch(
                f"out: the cells in {where} were computed with other numerical settings ("
                + "; ".join(diffs) + "); a resumed table would mix them. Run with the stored settings "
                "(float64: jax.config.update('jax_enable_x64', ...)), or use another out directory.")
        return stored, True

    def cell_path(self, i: int, cfg: Mapping[str, Any]) -> pathlib.Path:
        return self.path / "cells" / cell_name(i, cfg)

    def load_cell(self, path: pathlib.Path) -> dict[str, np.ndarray] | None:
        """The arrays of a finished cell, or ``None`` (with a warning naming the file and
        why) when it is missing, unreadable or stamped with another config hash."""
        if not path.exists():
            return None
        try:
            arrays = load_npz(path)
            stamp = str(arrays.pop(CELL_HASH)) if CELL_HASH in arrays else None
            problem = None
            if stamp is None:
                problem = "it has no config hash (written by another program or an older villani)"
            elif stamp != self.digest:
                problem = f"it belongs to another sweep (config hash {stamp}, this sweep {self.digest})"
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
            problem = f"it is unreadable, truncated or not an NPZ file ({type(e).__name__}: {e})"
        if problem is None:
            return arrays
        warnings.warn(f"sweep: cell file {str(path)!r} ignored: {problem}; recomputing this cell",
                      RuntimeWarning, stacklevel=3)
        return None

    def save_cell(self, path: pathlib.Path, arrays: Mapping[str, Any]) -> None:
        """Write ``sweep.json`` (with the first finished cell) and the cell, stamped."""
        if not self._meta_written:
            atomic_write_text(self.path / "sweep.json", json.dumps(self.meta, indent=2))
            self._meta_written = True
        save_npz(path, {**arrays, CELL_HASH: np.asarray(self.digest)})

    def close(self) -> None:
        """Release the lock."""
        if not self._lock.closed:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
