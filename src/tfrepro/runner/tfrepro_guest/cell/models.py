"""Built-in models: the same code runs on TF 1.15 (eager tf.keras) up to Keras 3.

Initializers are seeded explicitly from the cell seed, so initial weights are reproducible
within a release across processes (whether they also match *across* releases is one of
the things tfrepro measures).
"""

import math


def _initializer(k, camel, snake, seed):
    # TF 1.15's tf.keras (v1 API) only has the snake_case names
    cls = getattr(k.initializers, camel, None) or getattr(k.initializers, snake)
    return cls(seed=seed)


def _init(ctx, k, offset):
    return _initializer(k, "GlorotUniform", "glorot_uniform", ctx.seed * 1000 + offset)


def _head(ctx, k, x, offset):
    if ctx.task == "classification":
        return k.layers.Dense(
            ctx.n_classes,
            activation="softmax",
            name="output",
            kernel_initializer=_init(ctx, k, offset),
        )(x)
    return k.layers.Dense(1, name="output", kernel_initializer=_init(ctx, k, offset))(x)


def _grid(n_features):
    side = math.isqrt(n_features) if hasattr(math, "isqrt") else int(n_features**0.5)
    return side if side * side == n_features and side > 1 else None


def mlp(ctx):
    k = ctx.keras
    inp = k.Input(shape=ctx.input_shape, name="features")
    x = k.layers.Dense(
        ctx.hidden, activation="relu", name="hidden", kernel_initializer=_init(ctx, k, 1)
    )(inp)
    return k.Model(inp, _head(ctx, k, x, 2), name="mlp")


def cnn(ctx):
    k = ctx.keras
    d = ctx.input_shape[0]
    side = _grid(d)
    inp = k.Input(shape=ctx.input_shape, name="features")
    if side:
        x = k.layers.Reshape((side, side, 1), name="image")(inp)
        x = k.layers.Conv2D(
            8,
            3,
            padding="same",
            activation="relu",
            name="conv",
            kernel_initializer=_init(ctx, k, 1),
        )(x)
        x = k.layers.MaxPooling2D(2, name="pool")(x)
    else:
        x = k.layers.Reshape((d, 1), name="sequence")(inp)
        x = k.layers.Conv1D(
            8,
            3,
            padding="same",
            activation="relu",
            name="conv",
            kernel_initializer=_init(ctx, k, 1),
        )(x)
    x = k.layers.Flatten(name="flatten")(x)
    x = k.layers.Dense(
        ctx.hidden, activation="relu", name="hidden", kernel_initializer=_init(ctx, k, 2)
    )(x)
    return k.Model(inp, _head(ctx, k, x, 3), name="cnn")


def rnn(ctx):
    k = ctx.keras
    d = ctx.input_shape[0]
    side = _grid(d)
    steps, feats = (side, side) if side else (d, 1)
    inp = k.Input(shape=ctx.input_shape, name="features")
    x = k.layers.Reshape((steps, feats), name="sequence")(inp)
    # GRU defaults (reset_after, recurrent_activation) changed in TF 2.0: left at each
    # release's defaults on purpose, so the built-in RNN shows such changes.
    x = k.layers.GRU(
        max(4, ctx.hidden // 2),
        name="gru",
        kernel_initializer=_init(ctx, k, 1),
        recurrent_initializer=_initializer(k, "Orthogonal", "orthogonal", ctx.seed * 1000 + 2),
    )(x)
    return k.Model(inp, _head(ctx, k, x, 3), name="rnn")


BUILTINS = {"mlp": mlp, "cnn": cnn, "rnn": rnn}


def build_builtin(name, ctx):
    model = BUILTINS[name](ctx)
    ctx.compile(model)
    return model
