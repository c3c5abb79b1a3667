"""The machine a stage ran on, as far as float results depend on it, recorded next to the metrics.

Standard library only, so that describing the machine takes milliseconds (no TensorFlow import).
"""
import hashlib
import importlib.metadata
import json
import os
import platform
import sys
from pathlib import Path
from typing import Optional

from stages.lib import paths

# distribution names to look for, first found wins: TensorFlow ships under several
PACKAGES = {"tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tensorflow-macos"),
            "keras": ("keras",), "numpy": ("numpy",), "scikit-learn": ("scikit-learn",), "scipy": ("scipy",),
            "pandas": ("pandas",)}
VARIABLES = ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA", "TF_DETERMINISTIC_OPS", "OMP_NUM_THREADS",
             "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "CUDA_VISIBLE_DEVICES")

_SSE41 = {"sse4_1"}
_AVX = _SSE41 | {"avx"}
_AVX2 = _AVX | {"avx2"}
_AVX2_VNNI = _AVX2 | {"avx_vnni"}
_AVX512 = _AVX2 | {"avx512f", "avx512bw", "avx512vl", "avx512dq"}
_AVX512_VNNI = _AVX512 | {"avx512_vnni"}
_AVX512_BF16 = _AVX512_VNNI | {"avx512_bf16"}
_AVX512_FP16 = _AVX512_BF16 | _AVX2_VNNI | {"avx512_fp16"}
_AVX512_AMX = _AVX512_FP16 | {"amx_tile", "amx_int8", "amx_bf16"}
# oneDNN's ISA levels, highest first, with the /proc/cpuinfo flags each needs. They are sets, not a ladder:
# avx2_vnni is not part of avx512_core, so ONEDNN_MAX_CPU_ISA=avx512_core leaves an avx2_vnni CPU at avx2.
ISA_LEVELS = (("avx512_core_amx", _AVX512_AMX), ("avx512_core_bf16", _AVX512_BF16),
              ("avx512_core_vnni", _AVX512_VNNI), ("avx512_core", _AVX512), ("avx2_vnni", _AVX2_VNNI),
              ("avx2", _AVX2), ("avx", _AVX), ("sse41", _SSE41))
# ONEDNN_MAX_CPU_ISA values (oneDNN lower-cases them) -> what they allow; unknown values cap nothing, as in oneDNN
ISA_CAPS = {**dict(ISA_LEVELS), "avx2_vnni_2": _AVX2_VNNI | {"avx_vnni_int8", "avx_ne_convert"},
            "avx512_core_fp16": _AVX512_FP16, "avx10_1_512": _AVX512_FP16, "avx10_1_512_amx": _AVX512_AMX}


def cpu_info(text: str) -> tuple:
    """(model name, set of flags) of the first processor in /proc/cpuinfo's text; ("", set()) elsewhere."""
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:  # x86 / ARM
            flags = set(value.split())
    return model, flags


def cpu_isa(flags: set, machine: str, max_isa: Optional[str] = None) -> str:
    """The highest SIMD level oneDNN/Eigen would use on a CPU with these flags, within ONEDNN_MAX_CPU_ISA."""
    allowed = ISA_CAPS.get((max_isa or "").strip().lower())
    for name, needs in ISA_LEVELS:
        if needs <= flags and (allowed is None or needs <= allowed):
            return name
    return machine.lower() or "unknown"


def _read_cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def _version(distributions: tuple) -> Optional[str]:
    for name in distributions:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _os_name() -> str:
    """The OS and its C library, which float results can depend on; not the kernel build, which they do not."""
    libc, version = platform.libc_ver()
    return f"{platform.system()}{f' ({libc} {version})' if libc else ''}"


def describe(cpuinfo: Optional[str] = None, environ=None) -> dict:
    """What float results depend on: CPU, SIMD level, oneDNN, cores, OS, Python, package versions, variables.

    The same machine and settings give the same dict: no times, host names or process ids.
    """
    environ = os.environ if environ is None else environ
    model, flags = cpu_info(_read_cpuinfo() if cpuinfo is None else cpuinfo)
    machine = platform.machine()
    x86_linux = sys.platform.startswith("linux") and machine.lower() in ("x86_64", "amd64")
    return {
        "cpu_model": model or platform.processor() or machine,
        "cpu_isa": cpu_isa(flags, machine, environ.get("ONEDNN_MAX_CPU_ISA")),
        # TF reads the variable as a boolean ("0"/"false" off); unset, oneDNN is on for x86-64 Linux builds
        "onednn": environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower() not in ("0", "false") and x86_linux,
        "cores": os.cpu_count(),
        "os": _os_name(),
        "python": platform.python_version(),
        "packages": {name: _version(distributions) for name, distributions in PACKAGES.items()},
        "variables": {name: environ.get(name) for name in VARIABLES},
    }


def machine_id(description: dict) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]


def _sorted(value):
    return {key: _sorted(value[key]) for key in sorted(value)} if isinstance(value, dict) else value


def load(path=paths.ENVIRONMENT) -> dict:
    """The record {"machines": {ID: description}, "stages": {stage: ID}}; empty when missing or unreadable."""
    path = Path(path)
    empty = {"machines": {}, "stages": {}}
    if not path.exists():
        return empty
    try:
        record = json.loads(path.read_text())
        if not (isinstance(record.get("machines"), dict) and isinstance(record.get("stages"), dict)):
            raise ValueError("no 'machines' and 'stages' objects")
        return record
    except (OSError, ValueError, AttributeError) as error:
        print(f"warning: {path} is unreadable ({error}): its machine records are lost, stages write new ones "
              "as they run", file=sys.stderr)
        return empty


def record(stage: str, path=paths.ENVIRONMENT, description: Optional[dict] = None) -> str:
    """Record that `stage` ran on this machine; machines no stage refers to any more are dropped. Returns its ID."""
    from stages.lib.io import write_json  # numpy and pandas: only when writing

    description = describe() if description is None else description
    identifier = machine_id(description)
    current = load(path)
    stages = {**current["stages"], stage: identifier}
    machines = {**current["machines"], identifier: description}
    write_json(path, _sorted({"machines": {key: machines[key] for key in set(stages.values()) if key in machines},
                              "stages": stages}))
    return identifier


def flatten(values: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}, the keys `dvc params diff` and `dvc exp run -S` use (an empty dict stays)."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def differences(recorded: dict, current: dict) -> list:
    """The dotted keys ("cpu_isa", "packages.tensorflow") whose values differ, in `current`'s order."""
    old, new = flatten(recorded), flatten(current)
    keys = list(new) + [key for key in old if key not in new]
    return [key for key in keys if old.get(key) != new.get(key)]


def summary(description: dict) -> str:
    """One line: CPU (SIMD level, cores, OS, TF/Keras/NumPy versions)."""
    packages = description.get("packages", {})
    return (f"{description.get('cpu_model')} ({description.get('cpu_isa')}, {description.get('cores')} cores, "
            f"{description.get('os')}, TF {packages.get('tensorflow')}, Keras {packages.get('keras')}, "
            f"NumPy {packages.get('numpy')})")
