"""Atomic files, environment metadata and the on-disk layout of a sweep's ``out/``."""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata as md
import io
import json
import os
import pathlib
import re
import subprocess
import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["OutDirMismatch", "atomic_write_bytes", "atomic_write_text", "environment", "git_revision",
           "jsonable", "config_hash", "save_npz", "load_npz", "cell_name", "prepare_out"]


class OutDirMismatch(ValueError):
    """``out/`` holds a sweep with a different config (the message names what differs)."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never
    a half-written one (temp file in the same directory, fsync, ``os.replace``)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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


def prepare_out(out: str | pathlib.Path, config: dict[str, Any], env: dict[str, Any],
                 write: bool) -> tuple[pathlib.Path, dict[str, Any]]:
    out = pathlib.Path(out)
    meta_path = out / "sweep.json"
    config = jsonable(config)
    digest = config_hash(config)
    if meta_path.exists():
        stored = json.loads(meta_path.read_text())
        if stored.get("config_hash") != digest or stored.get("config") != config:
            diffs = _describe_differences(stored.get("config", {}), config)
            raise OutDirMismatch(
                f"out: {str(out)!r} holds a different sweep (config hash {stored.get('config_hash')}, "
                f"this one {digest}); it differs in: " + "; ".join(diffs or ["<unknown>"])
                + ". Use another out directory, or delete this one to start afresh.")
        return out, stored
    meta = {"config": config, "config_hash": digest, "environment": env,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    if write:
        atomic_write_text(meta_path, json.dumps(meta, indent=2))
    return out, meta
