"""What each TensorFlow release can do: the one table that host and guest both read.

The guest (Python 3.7+, standard library only here) asks it which switch a release has; the
host asks it which packages an environment needs and which knobs `explain` can flip. Every
release-dependent decision is a capability named here with the first release that has it,
so no other module compares TensorFlow versions.
"""

# capability -> the first release that has it
FIRST_RELEASE = {
    # TF 2: eager by default, tf.random.set_seed, tf.config.optimizer.set_jit (XLA knob)
    "tf2": (2, 0, 0),
    # op determinism through the TF_DETERMINISTIC_OPS=1 environment variable
    "deterministic_ops_env": (2, 1, 0),
    # model.evaluate(..., return_dict=True)
    "evaluate_return_dict": (2, 2, 0),
    # compile(jit_compile=...)
    "jit_compile_arg": (2, 5, 0),
    # TF_ENABLE_ONEDNN_OPTS is read (the oneDNN knob means something)
    "onednn_opts": (2, 5, 0),
    # imports with today's protobuf (older releases need protobuf<4 under `latest`)
    "modern_protobuf": (2, 6, 0),
    # tf.config.experimental.enable_op_determinism()
    "op_determinism": (2, 8, 0),
    # the new Keras optimizers; the old ones live on as keras.optimizers.legacy
    "new_keras_optimizers": (2, 11, 0),
    # the release's own metadata keeps numpy below 2 (older ones need numpy<2 under `latest`)
    "numpy_cap_declared": (2, 12, 0),
    # the tensorflow[and-cuda] extra installs CUDA and cuDNN from the package index
    "and_cuda_extra": (2, 15, 0),
    # tf.keras is Keras 3 (the separate `keras` package); Keras 2 is the tf_keras package
    "keras3": (2, 16, 0),
}


def parse_version(text):
    """'2.16.0rc1' -> (2, 16, 0); missing parts are 0."""
    parts = []
    for piece in str(text).split(".")[:3]:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        parts.append(int(digits or 0))
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def has(version, capability):
    """Whether TensorFlow `version` (a string or a tuple) has `capability`."""
    if not isinstance(version, tuple):
        version = parse_version(version)
    version = tuple(version) + (0,) * (3 - len(version))
    return version[:3] >= FIRST_RELEASE[capability]
