"""Feature visualisation by optimisation (Erhan et al. 2009; Simonyan et al. 2013; Yosinski et
al. 2015; Olah et al. 2017): the input each unit responds to most.

For each chosen layer, every chosen unit gets its own image(s), all in one batch, and Adam
raises each image's objective:

- conv1, conv2 (`objective: channel`): the mean over positions of the filter's map;
  (`objective: neuron`): the filter at the map's centre, row (H - 1) // 2, column (W - 1) // 2;
- fc1, logits: the unit itself (a logit is a class score before the softmax: Simonyan's class
  models).

Every objective is taken before the layer's ReLU, where a dead unit still has a gradient; where
it is positive it equals the activation. The image stays inside the data's pixel range: with
`pixel` its parameters are its pixels, clipped into [0, 1] after every step (projected gradient
ascent, which reaches the box's corners exactly); with `fourier` it is the sigmoid of the inverse
real FFT of a spectrum scaled by 1 / frequency (Lucid's `fft_image`: Olah et al.'s decorrelated
space). The loss of each image is

    -objective / s + l2 * mean((x - background)^2) + total_variation * mean(|x_i - x_j|)

with x on the [0, 1] scale, neighbours i, j, and s the layer's largest best test value (below),
so that one regulariser weight means the same in every layer. With diversity, each unit's
images add `diversity.weight` times their mean pairwise cosine similarity (of x - background).
At each step, before the model sees them, the images are shifted by whole pixels, rotated and
scaled at random (the invariance stage's bilinear transform, with an exact gradient); every
`blur.every` steps the image (`pixel`) or its field before the sigmoid (`fourier`) is blurred.
The start and the random draws come from `seed`: the same settings give bitwise the same file.

For comparison, the same objective is evaluated on every test image (the stage computes it:
activations.h5 holds only the dumped layers, after their ReLU). Every test image lies inside
the pixel box, so with the regularisers and transformations off the optimum is at least the
best of them.

results/<data set>/{run}/features.h5:
  attrs: settings (JSON of the run's feature_visualisation block), background (the data set's
         commonest test pixel value, 0-255), image_shape
  /<layer>                     a group per visualised layer; attrs: objective_kind (channel, neuron,
                               or unit), position ([row, column] of the neuron objective, else
                               absent), layer_units (units the layer has), scale (s above)
    units          int64 (u,): the visualised units' indices in the layer
    unit_names     string (u,): logits only: each unit's class name
    images         float32 (u, H, W): each unit's optimised image in the data's pixel units
                   (0-255, as the IDX files); with diversity, its first image
    objective      float64 (u,): the objective each image reaches at the end (untransformed)
    trace          float64 (u, t): the objective along the way, at trace_steps
    trace_steps    int64 (t,): the optimiser steps of trace's columns (0: the starting image)
    best_test_value  float64 (u,): the largest objective any test image gives the unit
    best_test_index  int64 (u,): that image's index in the test file
    diverse_images float32 (u, d, H, W), diverse_objective float64 (u, d): with
                   diversity.images d > 1, every image of each unit and its objective
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Sequence

import h5py
import numpy as np

from mnist_filters.atomic import atomic_output
from mnist_filters.dataset import (
    background_value,
    load_split,
    of_classes,
    run_classes,
    to_model_input,
)
from mnist_filters.network.load import input_size, load_trained_model
from mnist_filters.stages.invariance import inverse_matrix
from mnist_filters.tensorflow_setup import configure_tensorflow

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


def fourier_scale(shape: tuple[int, int]) -> np.ndarray:
    """(H, W // 2 + 1) weights of the spectrum: 1 / frequency, capped at the largest side, times
    sqrt(H * W) (Lucid's fft_image, decay power 1)."""
    height, width = shape
    frequencies = np.sqrt(
        np.fft.fftfreq(height)[:, None] ** 2 + np.fft.rfftfreq(width)[None, :] ** 2
    )
    return 1.0 / np.maximum(frequencies, 1.0 / max(height, width)) * math.sqrt(height * width)


def warp(images, transforms, fill: float):
    """(N, H, W, 1) `images`, each read through its row of `transforms` as
    keras.ops.image.affine_transform reads it (bilinear, constant `fill`; the invariance stage's
    transform, which a test holds this equal to), written with gathers so that its gradient is
    the exact adjoint. TensorFlow's registered gradient of that op instead warps the gradient
    back by the inverse transform, which bilinear sampling's adjoint is not."""
    import tensorflow as tf

    count, height, width = images.shape[0], images.shape[1], images.shape[2]
    dtype = images.dtype
    rows, columns = tf.meshgrid(
        tf.range(height, dtype=dtype), tf.range(width, dtype=dtype), indexing="ij"
    )
    a0, a1, a2, b0, b1, b2, c0, c1 = (transforms[:, i, None, None] for i in range(8))
    denominator = c0 * columns + c1 * rows + 1.0
    x = (a0 * columns + a1 * rows + a2) / denominator  # the input column each pixel reads
    y = (b0 * columns + b1 * rows + b2) / denominator
    # one pixel of `fill` around the image; every read further out lands on it
    padded = tf.pad(images[..., 0], [[0, 0], [1, 1], [1, 1]], constant_values=fill)
    x0, y0 = tf.floor(x), tf.floor(y)
    weight_x, weight_y = x - x0, y - y0
    batch = tf.broadcast_to(tf.range(count)[:, None, None], (count, height, width))

    def read(row, column):
        row = tf.cast(tf.clip_by_value(row + 1, 0, height + 1), tf.int32)
        column = tf.cast(tf.clip_by_value(column + 1, 0, width + 1), tf.int32)
        return tf.gather_nd(padded, tf.stack([batch, row, column], axis=-1))

    top = read(y0, x0) * (1 - weight_x) + read(y0, x0 + 1) * weight_x
    bottom = read(y0 + 1, x0) * (1 - weight_x) + read(y0 + 1, x0 + 1) * weight_x
    return (top * (1 - weight_y) + bottom * weight_y)[..., None]


def random_transforms(
    rng: np.random.Generator, count: int, shape: tuple[int, int], settings: dict, dtype: str
) -> np.ndarray | None:
    """(count, 8) affine rows (warp's) of a random whole-pixel shift of up to `jitter` each way,
    a rotation of up to `rotation` degrees and a scale by 1 +- `scale`, one per image; None when
    every one of the three settings is off."""
    jitter, rotation, scale = (settings[k] for k in ("jitter", "rotation", "scale"))
    if not (jitter or rotation or scale):
        return None
    shifts = rng.integers(-jitter, jitter + 1, size=(count, 2))
    angles = rng.uniform(-rotation, rotation, count)
    factors = rng.uniform(1 - scale, 1 + scale, count)
    rows = np.empty((count, 8), dtype)
    for i in range(count):
        matrix = (
            inverse_matrix("scale", factors[i], shape)
            @ inverse_matrix("rotation", angles[i], shape)
            @ inverse_matrix("vertical_shift", shifts[i, 0], shape)
            @ inverse_matrix("horizontal_shift", shifts[i, 1], shape)
        )
        rows[i] = np.concatenate([matrix[0], matrix[1], matrix[2, :2]])
    return rows


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A normalised 1-D Gaussian of `sigma` pixels, 3 sigma either side."""
    radius = max(1, math.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return kernel / kernel.sum()


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
    ):
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
        self.count = len(self.units) * copies
        if settings["parameterisation"] == "fourier":
            self.spectrum_scale = tf.constant(fourier_scale(self.image_shape), dtype)
        self.scale = tf.Variable(1.0, dtype=dtype, trainable=False)

    # -- the image ---------------------------------------------------------------------------
    def parameter_shape(self) -> tuple[int, ...]:
        height, width = self.image_shape
        if self.settings["parameterisation"] == "fourier":
            return (self.count, 2, height, width // 2 + 1)  # real and imaginary parts
        return (self.count, height, width)

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
        """(N, H, W) what the blur smooths: the image (pixel), or its field before the sigmoid
        (fourier)."""
        import tensorflow as tf

        if self.settings["parameterisation"] == "pixel":
            return parameters
        spectrum = tf.complex(
            parameters[:, 0] * self.spectrum_scale, parameters[:, 1] * self.spectrum_scale
        )
        # Lucid's fft_image divides by 4: the sigmoid starts in its steep part
        return tf.signal.irfft2d(spectrum, fft_length=self.image_shape) / 4.0

    def parameters_of(self, field):
        """The parameters whose field is `field` (blur works on the field)."""
        import tensorflow as tf

        if self.settings["parameterisation"] == "pixel":
            return field
        spectrum = tf.signal.rfft2d(field * 4.0, fft_length=self.image_shape)
        return tf.stack(
            [
                tf.math.real(spectrum) / self.spectrum_scale,
                tf.math.imag(spectrum) / self.spectrum_scale,
            ],
            axis=1,
        )

    def images(self, parameters):
        """(N, H, W, 1) the images on the model's [0, 1] scale."""
        import tensorflow as tf

        if self.settings["parameterisation"] == "pixel":
            return parameters[..., None]
        return tf.sigmoid(self.field(parameters))[..., None]

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
        offset = images[..., 0] - self.background
        if settings["l2"]:
            total += settings["l2"] * tf.reduce_sum(tf.reduce_mean(offset**2, axis=(1, 2)))
        if settings["total_variation"]:
            down = tf.abs(offset[:, 1:, :] - offset[:, :-1, :])
            right = tf.abs(offset[:, :, 1:] - offset[:, :, :-1])
            variation = (tf.reduce_sum(down, axis=(1, 2)) + tf.reduce_sum(right, axis=(1, 2))) / (
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
        field = self.field(parameters)[..., None]
        field = tf.pad(field, [[0, 0], [radius, radius], [radius, radius], [0, 0]], "SYMMETRIC")
        field = tf.nn.conv2d(field, kernel[:, None, None, None], 1, "VALID")
        field = tf.nn.conv2d(field, kernel[None, :, None, None], 1, "VALID")
        return self.parameters_of(field[..., 0])

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
            "images": images.numpy()[..., 0],
            "objective": objective.numpy().astype(np.float64),
            "trace": np.stack(trace, axis=1).astype(np.float64),
        }

    def best_on(self, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(value, test index) of the largest objective each chosen unit reaches on `test`
        (model inputs, (N, H, W, 1))."""
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


def visualise_layer(model, layer: str, settings: dict, background: float, test: np.ndarray):
    """(visualisation, best test values, their indices, the loss's scale, run's result) of one
    layer's units; `test`: the test set as model inputs, `background` on the [0, 1] scale."""
    units = settings["units"] or range(layer_units(model, layer))
    visualisation = Visualisation(model, layer, units, settings, background)
    best, best_index = visualisation.best_on(test)
    scale = max(float(np.abs(best).max()), 1e-6)
    return visualisation, best, best_index, scale, visualisation.run(settings["seed"], scale)


def visualise_features(
    model_path: str,
    test_images: str,
    output: str,
    *,
    settings: dict,
    test_labels: str,
    class_names: Sequence[str],
    classes: Sequence[int] | None = None,
    threads: int = 1,
) -> None:
    """Write features.h5 (see the module's docstring) for `settings`, a run's
    feature_visualisation block; `class_names`: the data set's name of each label;
    `classes`: the run's training.classes, whose test images alone give the best test values
    (None: all)."""
    configure_tensorflow(threads, "float32")
    model = load_trained_model(model_path)
    split = load_split(test_images, test_labels, input_size(model))
    test = split.images
    background = background_value(test)
    members = of_classes(split.labels, classes)
    test = test[members]
    inputs = to_model_input(test)
    names = [class_names[label] for label in run_classes(classes)]
    results = {}
    for layer in settings["layers"]:
        started = time.perf_counter()
        results[layer] = visualise_layer(model, layer, settings, background / 255.0, inputs)
        visualisation, best, _, _, found = results[layer]
        log.info(
            "%s: %d units x %d images, %d steps in %.1f s; objective above the best test value "
            "for %d of %d",
            layer,
            len(visualisation.units),
            visualisation.copies,
            settings["steps"],
            time.perf_counter() - started,
            int((found["objective"][:: visualisation.copies] >= best).sum()),
            len(best),
        )
    with atomic_output(output) as temporary, h5py.File(temporary, "w") as h5:
        h5.attrs["settings"] = json.dumps(settings, sort_keys=True)
        h5.attrs["background"] = background
        h5.attrs["image_shape"] = np.asarray(test.shape[1:], np.int64)
        for layer, (visualisation, best, best_index, scale, found) in results.items():
            # the output layer's units are the classes: they carry their names
            unit_names = names if layer == model.layers[-1].name else None
            write_layer(
                h5, layer, visualisation, best, members[best_index], scale, found, unit_names
            )


def write_layer(h5, layer, visualisation, best, best_index, scale, found, names) -> None:
    """`best_index`: in the test file; `names`: each unit's class name, for the output layer
    (None for any other)."""
    copies = visualisation.copies
    group = h5.create_group(layer)
    group.attrs["objective_kind"] = visualisation.kind
    if visualisation.position is not None:
        group.attrs["position"] = np.asarray(visualisation.position, np.int64)
    group.attrs["layer_units"] = visualisation.layer_units
    group.attrs["scale"] = scale
    shape = (len(visualisation.units), copies, *visualisation.image_shape)
    images = (found["images"] * 255.0).astype(np.float32).reshape(shape)
    objective = found["objective"].reshape(shape[:2])
    trace = found["trace"].reshape(*shape[:2], -1)
    group["units"] = visualisation.units
    if names is not None:
        group["unit_names"] = np.array([names[u] for u in visualisation.units], dtype="S")
    group["images"] = images[:, 0]
    group["images"].attrs["axes"] = "unit, row, column; pixel values 0-255"
    group["objective"] = objective[:, 0]
    group["trace"] = trace[:, 0]
    group["trace"].attrs["axes"] = "unit, trace step"
    group["trace_steps"] = np.asarray(trace_steps(visualisation.settings["steps"]), np.int64)
    group["best_test_value"] = best
    group["best_test_index"] = best_index
    if copies > 1:
        group["diverse_images"] = images
        group["diverse_images"].attrs["axes"] = "unit, image, row, column; pixel values 0-255"
        group["diverse_objective"] = objective
