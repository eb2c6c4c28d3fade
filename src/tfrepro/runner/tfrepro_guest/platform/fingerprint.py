"""What the guest can see of its own environment: versions, CPU, oneDNN, devices."""

import os
import platform
import sys


def _cpu():
    info = {"machine": platform.machine(), "cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and "model" not in info:
                    info["model"] = value.strip()
                elif key == "flags" and "flags" not in info:
                    flags = value.split()
                    info["flags"] = sorted(
                        x for x in flags if x.startswith(("avx", "fma", "sse", "amx", "f16c"))
                    )
    except OSError:
        pass
    return info


def _onednn(tf):
    """oneDNN as TensorFlow's IsMklEnabled() reports it. Measured: 2.9.3 and 2.10.0 say False
    on a CPU where their log says "oneDNN custom operations are on"; for the built-in MLP,
    TF_ENABLE_ONEDNN_OPTS=0 changes nothing in 2.9.3, so False matches what it computes."""
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except Exception:  # absent in some releases: then it is unknown
        return None


def devices(tf):
    lister = (
        getattr(tf.config, "list_physical_devices", None)
        or tf.config.experimental.list_physical_devices
    )
    try:
        return ["%s:%s" % (d.device_type, d.name) for d in lister()]
    except Exception as exc:  # the device list itself failed: said so in the record
        return ["unknown: %s" % exc]


def _build_info(tf):
    getter = getattr(getattr(tf, "sysconfig", None), "get_build_info", None)
    if getter is None:
        return {}
    try:
        info = dict(getter())
    except Exception:  # a build without this information
        return {}
    keep = ("cuda_version", "cudnn_version", "is_cuda_build", "is_rocm_build")
    return {k: str(info[k]) for k in keep if k in info}


def collect(compat, np):
    tf = compat.tf
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "tensorflow_git": str(getattr(tf, "__git_version__", "")),
        "keras": compat.keras_version,
        "keras_module": compat.keras.__name__,
        "numpy": np.__version__,
        "cpu": _cpu(),
        "onednn_enabled": _onednn(tf),
        "threads": {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        },
        "tf_env": dict(
            sorted(
                (k, v)
                for k, v in os.environ.items()
                if k.startswith(("TF_", "CUDA_", "OMP_", "KMP_", "PYTHONHASHSEED"))
            )
        ),
        "devices": devices(tf),
        "build": _build_info(tf),
    }
