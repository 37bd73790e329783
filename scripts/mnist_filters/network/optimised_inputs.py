"""Feature visualisation by optimisation: for each unit of a layer, the input in the data's
pixel range that raises it most, all units of a layer in one batch (the method and its
objective, regularisers and transformations: the docstring of
mnist_filters/stages/feature_visualisation.py, the stage that writes features.h5)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import numpy as np

from mnist_filters.image_transforms import fourier_scale, gaussian_kernel, random_transforms, warp

log = logging.getLogger(__name__)
# Points of the objective's trace: the start, the end, and evenly between.
TRACE_POINTS = 9
# Test images per forward pass for the best test values.
TEST_BATCH = 500


def trace_steps(steps: int) -> list[int]:
    """The steps at which the objective is recorded: 0, `steps` and evenly between."""
    return sorted({int(round(s)) for s in np.linspace(0, steps, TRACE_POINTS)})


def pre_activation_model(model, layer: str, dtype: str = "float32"):
    """`model` up to `layer`, with that layer's activation removed: every layer a copy, in
    `dtype`, with the trained weights."""
    import keras

    copies = []
    for original in model.layers:
        config = {**original.get_config(), "dtype": dtype}
        if original.name == layer:
            config["activation"] = "linear"
        copies.append(original.__class__.from_config(config))
        if original.name == layer:
            break
    else:
        raise ValueError(f"the model has no layer {layer!r}")
    truncated = keras.Sequential(
        [keras.Input(shape=model.inputs[0].shape[1:], dtype=dtype), *copies]
    )
    for copy, original in zip(truncated.layers, model.layers):
        copy.set_weights([np.asarray(w, dtype) for w in original.get_weights()])
    return truncated


class Visualisation:
    """The optimisation of one layer's units: the images' parameterisation, the objective,
    the loss, one Adam step. `settings`: a run's feature_visualisation block; `background`: the
    data's background on the [0, 1] scale; `dtype`: the computation's (float64 for gradient
    checks)."""

    def __init__(
        self,
        model,
        layer: str,
        units: Sequence[int],
        settings: dict,
        background: float,
        dtype: str = "float32",
        colour_mixing: np.ndarray | None = None,
    ):
        """`colour_mixing`: for colour inputs, the (C, C) matrix that takes the Fourier
        parameterisation's decorrelated colours to the image's (colour_mixing())."""
        import tensorflow as tf

        self.layer = layer
        self.settings = settings
        self.dtype = dtype
        self.background = background
        self.net = pre_activation_model(model, layer, dtype)
        output_shape = tuple(int(d) for d in self.net.output_shape[1:])
        self.layer_units = output_shape[-1]
        self.kind = "unit" if len(output_shape) == 1 else settings["objective"]
        self.position = (
            ((output_shape[0] - 1) // 2, (output_shape[1] - 1) // 2)
            if self.kind == "neuron"
            else None
        )
        self.units = np.asarray(units, np.int64)
        copies = settings["diversity"]["images"]
        self.copies = copies
        # image i of the batch serves unit targets[i]; a unit's copies are neighbours
        self.targets = tf.constant(np.repeat(self.units, copies))
        self.image_shape = tuple(int(d) for d in model.inputs[0].shape[1:3])
        self.channels = int(model.inputs[0].shape[3])
        self.count = len(self.units) * copies
        if self.channels > 1 and settings["parameterisation"] == "fourier":
            if colour_mixing is None:
                raise ValueError("colour inputs in the Fourier parameterisation need colour_mixing")
            self.colour_mixing = tf.constant(np.asarray(colour_mixing).T, dtype)
        if settings["parameterisation"] == "fourier":
            self.spectrum_scale = tf.constant(fourier_scale(self.image_shape), dtype)
        self.scale = tf.Variable(1.0, dtype=dtype, trainable=False)

    # -- the image ---------------------------------------------------------------------------
    def parameter_shape(self) -> tuple[int, ...]:
        height, width = self.image_shape
        colour = () if self.channels == 1 else (self.channels,)
        if self.settings["parameterisation"] == "fourier":
            # real and imaginary parts, of each decorrelated colour channel
            return (self.count, 2, *colour, height, width // 2 + 1)
        return (self.count, height, width, *colour)

    def initial_parameters(self, rng: np.random.Generator) -> np.ndarray:
        """A mid-grey, faintly noisy start (noise of standard deviation 0.01)."""
        noise = rng.standard_normal(self.parameter_shape()) * 0.01
        start = 0.5 + noise if self.settings["parameterisation"] == "pixel" else noise
        return start.astype(self.dtype)

    def project(self, parameters):
        """The parameters moved back inside the pixel box ([0, 1]; `fourier` is always in)."""
        import tensorflow as tf

        if self.settings["parameterisation"] == "pixel":
            return tf.clip_by_value(parameters, 0.0, 1.0)
        return parameters

    def field(self, parameters):
        """(N, H, W), or (N, H, W, C) for colour, what the blur smooths: the image (pixel), or
        its field before the sigmoid (fourier; for colour, in decorrelated colours)."""
        import tensorflow as tf

        if self.settings["parameterisation"] == "pixel":
            return parameters
        spectrum = tf.complex(
            parameters[:, 0] * self.spectrum_scale, parameters[:, 1] * self.spectrum_scale
        )
        # Lucid's fft_image divides by 4: the sigmoid starts in its steep part
        field = tf.signal.irfft2d(spectrum, fft_length=self.image_shape) / 4.0
        return field if self.channels == 1 else tf.transpose(field, (0, 2, 3, 1))

    def parameters_of(self, field):
        """The parameters whose field is `field` (blur works on the field)."""
        import tensorflow as tf

        if self.settings["parameterisation"] == "pixel":
            return field
        if self.channels > 1:
            field = tf.transpose(field, (0, 3, 1, 2))
        spectrum = tf.signal.rfft2d(field * 4.0, fft_length=self.image_shape)
        return tf.stack(
            [
                tf.math.real(spectrum) / self.spectrum_scale,
                tf.math.imag(spectrum) / self.spectrum_scale,
            ],
            axis=1,
        )

    def images(self, parameters):
        """(N, H, W, C) the images on the model's [0, 1] scale; a colour field's decorrelated
        colours mixed into the image's before the sigmoid (Olah et al. 2017, as Lucid)."""
        import tensorflow as tf

        if self.settings["parameterisation"] == "pixel":
            return parameters[..., None] if self.channels == 1 else parameters
        if self.channels == 1:
            return tf.sigmoid(self.field(parameters))[..., None]
        return tf.sigmoid(tf.tensordot(self.field(parameters), self.colour_mixing, 1))

    # -- the objective -----------------------------------------------------------------------
    def unit_values(self, images):
        """(N, layer units) the objective of every unit of the layer for each image."""
        import tensorflow as tf

        values = self.net(images, training=False)
        if self.kind == "channel":
            return tf.reduce_mean(values, axis=(1, 2))
        if self.kind == "neuron":
            return values[:, self.position[0], self.position[1], :]
        return values

    def objective(self, images):
        """(N,) each image's own unit's objective."""
        import tensorflow as tf

        return tf.gather(self.unit_values(images), self.targets, axis=1, batch_dims=1)

    def loss(self, parameters, transforms=None):
        """The summed loss of the batch (the module's docstring); `transforms`: (N, 8) affine
        rows applied to the images first, or None."""
        import tensorflow as tf

        settings = self.settings
        images = self.images(parameters)
        seen = images if transforms is None else warp(images, transforms, self.background)
        total = -tf.reduce_sum(self.objective(seen)) / self.scale
        offset = (images[..., 0] if self.channels == 1 else images) - self.background
        axes = tuple(range(1, len(offset.shape)))  # all but the batch's
        if settings["l2"]:
            total += settings["l2"] * tf.reduce_sum(tf.reduce_mean(offset**2, axis=axes))
        if settings["total_variation"]:
            down = tf.abs(offset[:, 1:, :] - offset[:, :-1, :])
            right = tf.abs(offset[:, :, 1:] - offset[:, :, :-1])
            variation = (tf.reduce_sum(down, axis=axes) + tf.reduce_sum(right, axis=axes)) / (
                tf.cast(tf.size(down[0]) + tf.size(right[0]), self.dtype)
            )
            total += settings["total_variation"] * tf.reduce_sum(variation)
        if self.copies > 1 and settings["diversity"]["weight"]:
            total += settings["diversity"]["weight"] * tf.reduce_sum(self.similarity(offset))
        return total

    def similarity(self, offset):
        """(units,) the mean pairwise cosine similarity of each unit's images."""
        import tensorflow as tf

        flat = tf.reshape(offset, (len(self.units), self.copies, -1))
        unit = flat / (tf.norm(flat, axis=2, keepdims=True) + 1e-12)
        gram = tf.matmul(unit, unit, transpose_b=True)
        pairs = self.copies * (self.copies - 1)
        return (tf.reduce_sum(gram, axis=(1, 2)) - tf.linalg.trace(gram)) / pairs

    def loss_and_gradient(self, parameters: np.ndarray, transforms: np.ndarray | None = None):
        """(loss, its gradient with respect to the parameters), as NumPy: the gradient checks'
        entry."""
        import tensorflow as tf

        variable = tf.constant(parameters)
        with tf.GradientTape() as tape:
            tape.watch(variable)
            value = self.loss(variable, None if transforms is None else tf.constant(transforms))
        return float(value), tape.gradient(value, variable).numpy()

    # -- the random transformations and the blur ---------------------------------------------
    def random_transforms(self, rng: np.random.Generator) -> np.ndarray | None:
        """This step's random transforms of the batch (random_transforms)."""
        return random_transforms(rng, self.count, self.image_shape, self.settings, self.dtype)

    def blurred(self, parameters):
        """The parameters of the field blurred by a Gaussian of blur.sigma (reflected edges)."""
        import tensorflow as tf

        kernel = gaussian_kernel(self.settings["blur"]["sigma"]).astype(self.dtype)
        radius = len(kernel) // 2
        field = self.field(parameters)
        if self.channels == 1:
            field = field[..., None]
        field = tf.pad(field, [[0, 0], [radius, radius], [radius, radius], [0, 0]], "SYMMETRIC")
        if self.channels == 1:
            field = tf.nn.conv2d(field, kernel[:, None, None, None], 1, "VALID")
            field = tf.nn.conv2d(field, kernel[None, :, None, None], 1, "VALID")
            return self.parameters_of(field[..., 0])
        each = np.ones((1, 1, self.channels, 1), self.dtype)  # every channel on its own
        field = tf.nn.depthwise_conv2d(field, kernel[:, None, None, None] * each, [1] * 4, "VALID")
        field = tf.nn.depthwise_conv2d(field, kernel[None, :, None, None] * each, [1] * 4, "VALID")
        return self.parameters_of(field)

    # -- the optimisation --------------------------------------------------------------------
    def run(self, seed: int, scale: float) -> dict[str, np.ndarray]:
        """Optimise: the final images ([0, 1]), objective and trace (see the module docstring)."""
        import keras
        import tensorflow as tf

        settings = self.settings
        self.scale.assign(scale)
        # a stream of its own per layer and units, so that another layer list changes nothing
        layer_key = int.from_bytes(hashlib.sha256(self.layer.encode()).digest()[:4], "big")
        rng = np.random.default_rng([seed, layer_key, *self.units.tolist()])
        parameters = keras.Variable(self.initial_parameters(rng), dtype=self.dtype)
        optimizer = keras.optimizers.Adam(learning_rate=settings["learning_rate"])
        optimizer.build([parameters])

        @tf.function(autograph=False)
        def step(transforms):
            # transforms None (every one off) traces a function of its own
            with tf.GradientTape() as tape:
                value = self.loss(parameters.value, transforms)
            optimizer.apply_gradients([(tape.gradient(value, parameters.value), parameters)])
            parameters.assign(self.project(parameters.value))

        @tf.function(autograph=False)
        def current():
            images = self.images(parameters.value)
            return images, self.objective(images)

        recorded = trace_steps(settings["steps"])  # the last step included
        trace = []
        every = settings["blur"]["every"]
        for done in range(settings["steps"] + 1):
            if done in recorded:
                images, objective = current()
                trace.append(objective.numpy())
            if done == settings["steps"]:
                break
            transforms = self.random_transforms(rng)
            step(None if transforms is None else tf.constant(transforms))
            if every and (done + 1) % every == 0:
                parameters.assign(self.blurred(parameters.value))
        return {
            "images": images.numpy()[..., 0] if self.channels == 1 else images.numpy(),
            "objective": objective.numpy().astype(np.float64),
            "trace": np.stack(trace, axis=1).astype(np.float64),
        }

    def best_on(self, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(value, test index) of the largest objective each chosen unit reaches on `test`
        (model inputs, (N, H, W, C))."""
        import tensorflow as tf

        evaluate = tf.function(lambda x: self.unit_values(x), autograph=False)
        values = np.concatenate(
            [
                evaluate(tf.constant(test[start : start + TEST_BATCH], self.dtype)).numpy()
                for start in range(0, len(test), TEST_BATCH)
            ]
        )[:, self.units]
        return values.max(axis=0).astype(np.float64), values.argmax(axis=0).astype(np.int64)


def layer_units(model, layer: str) -> int:
    """Units (filters, or dense units) of `layer`."""
    return int(model.get_layer(layer).output.shape[-1])


def colour_mixing(images: np.ndarray) -> np.ndarray:
    """(C, C): the square root of the colour covariance of `images` (N, H, W, C), by its SVD,
    scaled so that its longest column has length 1: it takes uncorrelated colours to colours
    correlated as the data's are (Olah et al. 2017, "Feature Visualization", whose Lucid
    uses ImageNet's matrix; this one is the data's own)."""
    pixels = images.reshape(-1, images.shape[-1]).astype(np.float64)
    left, values, _ = np.linalg.svd(np.cov(pixels, rowvar=False))
    root = left * np.sqrt(values)
    return root / max(float(np.linalg.norm(root, axis=0).max()), 1e-12)


def visualise_layer(
    model,
    layer: str,
    settings: dict,
    background: float,
    test: np.ndarray,
    mixing: np.ndarray | None = None,
):
    """(visualisation, best test values, their indices, the loss's scale, run's result) of one
    layer's units; `test`: the test set as model inputs, `background` on the [0, 1] scale;
    `mixing`: colour_mixing of colour data."""
    units = settings["units"] or range(layer_units(model, layer))
    visualisation = Visualisation(model, layer, units, settings, background, colour_mixing=mixing)
    best, best_index = visualisation.best_on(test)
    scale = max(float(np.abs(best).max()), 1e-6)
    return visualisation, best, best_index, scale, visualisation.run(settings["seed"], scale)
