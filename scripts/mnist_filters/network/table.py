"""The layer table: what every stage, check and figure knows of a network's layers.

One row per layer, from the input up to the logits: its name, its kind, its options (kernel,
strides, dilation, padding, units, ...), its output shape and, while the output is an image of
channels, its receptive-field geometry (network/geometry.py). It is pure Python, so the
workflow makes it from a run's settings as it starts, before any job and without
TensorFlow (`LayerTable.declared`); a stage reading a trained model fills the same table from
the model's own Keras config, as its `config.json` holds it (`LayerTable.from_keras`).

Which layers an analysis may take follows from the kinds: any layer with a spatial output can
be dumped, ranked, projected, occluded and followed through training; a convolution or a dense
layer can be visualised; the layers holding weights below the logits can be transferred.
Settings name layers, or one of the SELECTORS below, which stand for layers by their place in
the table ("the first convolution"), so that a default means the same in every network.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mnist_filters.errors import did_you_mean
from mnist_filters.network.geometry import Geometry, input_geometry, windowed

# The kinds a network may declare; `flatten` is implied before the first dense layer.
DECLARED_KINDS = ("conv", "max_pool", "avg_pool", "batch_norm", "dropout", "dense")
# The kinds a model trained elsewhere may have besides (network/imported.py): pixel scaling
# at the input, a ReLU of its own (after a batch normalisation, say), and global average
# pooling, which flattens.
IMPORTED_KINDS = ("rescaling", "relu", "global_avg_pool")
WINDOWED = ("conv", "max_pool", "avg_pool")
POOLINGS = ("max_pool", "avg_pool")
# Kinds that keep their input's shape and look at one position only.
POINTWISE = ("batch_norm", "dropout", "rescaling", "relu")
FLATTENING = ("flatten", "global_avg_pool")
WEIGHTED = ("conv", "batch_norm", "dense")
# Each weighted kind's Keras weights, in the order of layer.get_weights().
WEIGHT_PARTS = {
    "conv": ("kernel", "bias"),
    "dense": ("kernel", "bias"),
    "batch_norm": ("gamma", "beta", "moving_mean", "moving_variance"),
}
OUTPUT = "logits"  # the declared network's output layer, a dense layer of one unit per class
FLATTEN = "flatten"
# activations.h5's datasets beside the layers' (stages/activations.py): no layer takes a name
FILE_NAMES = ("labels", "image_index", "weights")

# Keras class -> kind, for a model read from its file.
KERAS_KINDS = {
    "Conv2D": "conv",
    "MaxPooling2D": "max_pool",
    "AveragePooling2D": "avg_pool",
    "BatchNormalization": "batch_norm",
    "Dropout": "dropout",
    "Flatten": "flatten",
    "Dense": "dense",
    "Rescaling": "rescaling",
    "Normalization": "rescaling",
    "ReLU": "relu",
    "GlobalAveragePooling2D": "global_avg_pool",
    "SpatialDropout2D": "dropout",
}
# What passes a model's logits to a softmax (the last layer's activation, or a layer of its
# own); the analyses read the logits before it.
SOFTMAX = "softmax"


def _pair(value) -> tuple[int, int]:
    """A window's (rows, cols) from one number or two."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"{list(value)} is neither one number nor two (rows, cols)")
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _size(pair: tuple[int, int]) -> str:
    return f"{pair[0]}x{pair[1]}"


@dataclass(frozen=True)
class Layer:
    """One row of the table. `options` by kind:
    conv: filters, kernel, strides, dilation (each (rows, cols)), padding, activation;
    max_pool, avg_pool: window, strides, padding; dense: units, activation; dropout: rate;
    batch_norm: epsilon, momentum. `activation` is "relu" or "none"."""

    name: str
    kind: str
    options: dict
    output_shape: tuple[int, ...]  # (H, W, C) while spatial, else (units,)
    geometry: Geometry | None = field(default=None, compare=False)

    @property
    def spatial(self) -> bool:
        return len(self.output_shape) == 3

    @property
    def units(self) -> int:
        """Channels of a spatial layer, units of a dense one."""
        return self.output_shape[-1]

    @property
    def weighted(self) -> bool:
        return self.kind in WEIGHTED


class LayerError(ValueError):
    """A network that cannot be built or read: one line naming the layer."""


class LayerTable:
    """The layers of one network, in order, with the input's (H, W, C)."""

    def __init__(self, layers: Sequence[Layer], input_shape: tuple[int, int, int]):
        self.layers = tuple(layers)
        self.input_shape = tuple(input_shape)
        self._by_name = {layer.name: layer for layer in self.layers}

    # -- reading it -------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def __getitem__(self, name: str) -> Layer:
        return self._by_name[name]

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def __iter__(self):
        return iter(self.layers)

    def up_to(self, name: str) -> list[Layer]:
        """The layers from the input up to `name`, included."""
        return list(self.layers[: self.names.index(name) + 1])

    @property
    def output(self) -> Layer:
        return self.layers[-1]

    def of_kind(self, *kinds: str) -> list[str]:
        return [layer.name for layer in self.layers if layer.kind in kinds]

    @property
    def convolutions(self) -> list[str]:
        return self.of_kind("conv")

    @property
    def first_convolution(self) -> str | None:
        return next(iter(self.convolutions), None)

    @property
    def spatial(self) -> list[str]:
        """Layers with a map per channel: dumped, ranked, projected, occluded, traced."""
        return [layer.name for layer in self.layers if layer.spatial]

    @property
    def visualisable(self) -> list[str]:
        """Layers whose units feature visualisation optimises an input for."""
        return self.of_kind("conv", "dense")

    @property
    def comparable(self) -> list[str]:
        """Layers whose feature vectors the invariance stage compares: all but the flatten."""
        return [layer.name for layer in self.layers if layer.kind != FLATTEN]

    @property
    def transferable(self) -> list[str]:
        """The layers holding weights below the output, in order: depth n copies the first n."""
        return [layer.name for layer in self.layers[:-1] if layer.weighted]

    @property
    def snapshot_layers(self) -> list[str]:
        """The spatial layers with weights, kept through training (features through training)."""
        return [layer.name for layer in self.layers if layer.weighted and layer.spatial]

    # -- naming layers in settings ----------------------------------------------------------
    def resolve(
        self, chosen: Iterable[str], key: str, among: Sequence[str], what: str
    ) -> list[str]:
        """`chosen` (layer names and SELECTORS) as layer names, in the table's order of first
        mention, each checked to be one of `among` (`what` says which those are); `key` names
        the setting in errors."""
        names: list[str] = []
        for entry in chosen:
            if entry in SELECTORS:
                found = [name for name in SELECTORS[entry][0](self) if name in among]
            elif entry in self:
                if entry not in among:
                    raise LayerError(
                        f"{key}: {entry} is a {self[entry].kind} layer, but {what}: "
                        f"{', '.join(among) or 'none in this network'}"
                    )
                found = [entry]
            else:
                hint = did_you_mean(entry, [*among, *SELECTORS])
                raise LayerError(
                    f"{key}: the network has no layer {entry!r}; {hint}{what}: "
                    f"{', '.join(among) or 'none'} (or {', '.join(SELECTORS)})"
                )
            names += [name for name in found if name not in names]
        if not names:
            raise LayerError(
                f"{key}: {list(chosen)} name no layer of this network; {what}: "
                f"{', '.join(among) or 'none'}"
            )
        return names

    # -- making it --------------------------------------------------------------------------
    @classmethod
    def declared(
        cls, layers: Sequence[dict], input_shape: tuple[int, ...], classes: int
    ) -> LayerTable:
        """The table of a network declared in settings (`model.layers`, each entry with its
        kind's defaults filled in), with a flatten before the first dense layer and the output
        `logits` of `classes` units. A LayerError names the first layer that cannot be."""
        rows = []
        for entry in layers:
            name, kind = entry["name"], entry["kind"]
            if name in (OUTPUT, FLATTEN):
                raise LayerError(
                    f"model.layers: {name!r} is the name of a layer the workflow adds "
                    f"({FLATTEN} before the first dense layer, {OUTPUT} at the end); rename it"
                )
            if name in FILE_NAMES:
                raise LayerError(
                    f"model.layers: {name!r} names a dataset of activations.h5 that is no "
                    f"layer ({', '.join(FILE_NAMES)}); rename the layer"
                )
            if kind == "dense" and not any(row["kind"] in ("dense", FLATTEN) for row in rows):
                rows.append({"name": FLATTEN, "kind": FLATTEN})
            rows.append(dict(entry))
        if not any(row["kind"] in ("dense", FLATTEN) for row in rows):
            rows.append({"name": FLATTEN, "kind": FLATTEN})
        rows.append({"name": OUTPUT, "kind": "dense", "units": classes, "activation": "none"})
        return cls.chain(rows, input_shape)

    @classmethod
    def chain(
        cls, rows: Sequence[dict], input_shape: tuple[int, ...], imported: bool = False
    ) -> LayerTable:
        """The table of a chain of layers given as {name, kind, options...}, from the input up
        (`imported`: read from a model file, whose kinds may be IMPORTED_KINDS too)."""
        if len(input_shape) == 2:
            input_shape = (*input_shape, 1)
        shape: tuple[int, ...] = tuple(int(d) for d in input_shape)
        geometry: Geometry | None = input_geometry(shape)
        previous = "the input"
        source = f"the {shape[0]}x{shape[1]} images"
        layers: list[Layer] = []
        seen: set[str] = set()
        for row in rows:
            name, kind = row["name"], row["kind"]
            if name in seen:
                raise LayerError(f"model.layers: two layers are named {name!r}; names must differ")
            seen.add(name)
            where = f"model.layers: layer {name} ({kind})"
            options = _options(row, where)
            if kind in WINDOWED:
                if len(shape) != 3:
                    raise LayerError(
                        f"{where} comes after {previous}, whose output is flat ({shape[0]} units): "
                        "convolutions and poolings come before the first dense layer"
                    )
                window = options["kernel" if kind == "conv" else "window"]
                try:
                    geometry = windowed(
                        geometry,
                        window,
                        options["strides"],
                        options["padding"],
                        options.get("dilation", (1, 1)),
                    )
                except ValueError:
                    dilated = (
                        f" dilated by {_size(options['dilation'])}"
                        if options.get("dilation", (1, 1)) != (1, 1)
                        else ""
                    )
                    raise LayerError(
                        f"{where}: its {_size(window)} window{dilated} ({options['padding']}) "
                        f"does not fit {source}"
                    ) from None
                channels = options["filters"] if kind == "conv" else shape[2]
                shape = (geometry.rows.length, geometry.cols.length, channels)
            elif kind in POINTWISE:
                for key in ("scale", "offset") if kind == "rescaling" else ():
                    if isinstance(options[key], list) and len(options[key]) != shape[-1]:
                        raise LayerError(
                            f"{where}: a {key} for each of {len(options[key])} channels, but "
                            f"{source} has {shape[-1]}"
                        )
                if geometry is not None:
                    geometry = Geometry(geometry.rows, geometry.cols, "valid")
            elif kind in FLATTENING:
                if len(shape) != 3 and kind == "global_avg_pool":
                    raise LayerError(f"{where} comes after {previous}, whose output is flat")
                shape = (_product(shape),) if kind == FLATTEN else (shape[2],)
                geometry = None
            elif kind == "dense":
                if len(shape) != 1:
                    raise LayerError(f"{where} comes after {previous}, whose output is not flat")
                shape = (options["units"],)
            else:
                raise LayerError(
                    f"{where}: unknown kind {kind!r}; the kinds are {', '.join(DECLARED_KINDS)}"
                )
            if kind in IMPORTED_KINDS and not imported:
                raise LayerError(
                    f"{where}: kind {kind!r} is read from models trained elsewhere only; the "
                    f"kinds to declare are {', '.join(DECLARED_KINDS)}"
                )
            layers.append(Layer(name, kind, options, shape, geometry))
            previous = name
            if len(shape) == 3:
                source = f"{name}'s {shape[0]}x{shape[1]} output"
        return cls(layers, tuple(int(d) for d in input_shape))

    @classmethod
    def from_keras(cls, config: dict) -> LayerTable:
        """The table of a Keras model from its config (`model.get_config()`, or the `config` of
        a .keras file's config.json): a Sequential model, or a functional one whose layers form
        one chain (keras_chain). A softmax at the end is left out: the table ends at the
        logits. A LayerError lists every layer it cannot read."""
        entries = keras_chain(config)
        input_shape = None
        if entries and entries[0]["class_name"] == "InputLayer":
            input_shape = tuple(entries.pop(0)["config"]["batch_shape"][1:])
        if input_shape is None:
            input_shape = tuple(config["build_input_shape"][1:])
        while entries and _is_softmax(entries[-1]):
            entries.pop()
        unread = [
            f"{entry['config']['name']} ({entry['class_name']})"
            for entry in entries
            if _kind_of(entry) is None
        ]
        if unread:
            raise LayerError(
                f"the workflow does not read layers {', '.join(unread)}; it reads "
                f"{', '.join(KERAS_KINDS)}, Activation('relu'), and a softmax at the end"
            )
        rows = [_keras_row(_kind_of(entry), entry["config"]) for entry in entries]
        if rows and rows[-1]["kind"] == "dense" and rows[-1].get("activation") == SOFTMAX:
            rows[-1]["activation"] = "none"
        for row in rows:
            if row.get("activation") not in (None, "relu", "none"):
                raise LayerError(
                    f"layer {row['name']}'s activation is {row['activation']}; the workflow "
                    "reads relu or none (linear), and a softmax at the end"
                )
        return cls.chain(rows, input_shape, imported=True)


def _kind_of(entry: dict) -> str | None:
    class_name = entry["class_name"]
    if class_name == "Activation":
        return "relu" if entry["config"]["activation"] == "relu" else None
    return KERAS_KINDS.get(class_name)


def _is_softmax(entry: dict) -> bool:
    return entry["class_name"] == "Softmax" or (
        entry["class_name"] == "Activation" and entry["config"]["activation"] == SOFTMAX
    )


def _tensor_sources(value) -> list[str]:
    """The layers whose outputs a functional layer's call arguments name."""
    if isinstance(value, dict):
        history = value.get("config", {}).get("keras_history") if "config" in value else None
        if value.get("class_name") == "__keras_tensor__" and history:
            return [history[0]]
        return [name for item in value.values() for name in _tensor_sources(item)]
    if isinstance(value, (list, tuple)):
        return [name for item in value for name in _tensor_sources(item)]
    return []


def keras_chain(config: dict) -> list[dict]:
    """A Keras model config's layer entries, from the input up, where they form one chain
    (every Sequential model; a functional one whose layers each take the previous one's
    output alone); a LayerError names the first layer that branches or merges."""
    entries = [dict(entry) for entry in config["layers"]]
    if "input_layers" not in config:  # Sequential
        return entries
    sources = {
        entry["config"]["name"]: [
            source for node in entry.get("inbound_nodes", []) for source in _tensor_sources(node)
        ]
        for entry in entries
    }
    chain = "the workflow reads a chain of layers, not a branching graph"
    for entry in entries:
        name = entry["config"]["name"]
        if len(sources[name]) > 1:
            raise LayerError(
                f"layer {name} ({entry['class_name']}) merges {', '.join(sources[name])}: {chain}"
            )
    for entry in entries:
        name = entry["config"]["name"]
        fed = [other for other, inputs in sources.items() if name in inputs]
        if len(fed) > 1:
            raise LayerError(f"the output of layer {name} feeds {', '.join(fed)}: {chain}")
    previous = None
    for entry in entries:
        name = entry["config"]["name"]
        if entry["class_name"] == "InputLayer" and previous is not None:
            raise LayerError(f"layer {name} is a second input; the workflow reads one input")
        if entry["class_name"] != "InputLayer" and sources[name] != [previous]:
            raise LayerError(f"layer {name} does not take {previous}'s output: {chain}")
        previous = name
    return entries
    previous = None
    consumers: dict[str, int] = {}
    for entry in entries:
        name = entry["config"]["name"]
        sources = [s for node in entry.get("inbound_nodes", []) for s in _tensor_sources(node)]
        for source in sources:
            consumers[source] = consumers.get(source, 0) + 1
        if entry["class_name"] == "InputLayer":
            if previous is not None:
                raise LayerError(f"layer {name} is a second input; the workflow reads one input")
        elif len(sources) != 1 or sources[0] != previous:
            raise LayerError(
                f"layer {name} ({entry['class_name']}) takes {', '.join(sources) or 'nothing'}, "
                f"not {previous}'s output alone: the workflow reads a chain of layers, not a "
                "branching graph (Add, Concatenate, a layer used twice)"
            )
        previous = name
    forked = [name for name, count in consumers.items() if count > 1]
    if forked:
        raise LayerError(
            f"layer {forked[0]}'s output feeds {consumers[forked[0]]} layers: the workflow "
            "reads a chain of layers, not a branching graph"
        )
    return entries


def _product(shape: Iterable[int]) -> int:
    total = 1
    for d in shape:
        total *= int(d)
    return total


def _options(row: dict, where: str) -> dict:
    """A row's options in the table's form: windows and strides as (rows, cols)."""
    kind = row["kind"]
    if kind == "conv":
        options = {
            "filters": int(row["filters"]),
            "kernel": _pair(row["kernel_size"]),
            "strides": _pair(row.get("strides", 1)),
            "dilation": _pair(row.get("dilation", 1)),
            "padding": row.get("padding", "valid"),
            "activation": row.get("activation", "relu"),
        }
        if options["strides"] != (1, 1) and options["dilation"] != (1, 1):
            # TensorFlow's convolution refuses both at once
            raise LayerError(f"{where}: strides and dilation above 1 cannot go together")
    elif kind in POOLINGS:
        window = _pair(row["pool_size"])
        strides = row.get("strides")
        options = {
            "window": window,
            "strides": window if strides is None else _pair(strides),
            "padding": row.get("padding", "valid"),
        }
    elif kind == "dense":
        options = {"units": int(row["units"]), "activation": row.get("activation", "relu")}
    elif kind == "dropout":
        options = {"rate": float(row.get("rate", 0.5))}
    elif kind == "batch_norm":
        options = {
            "epsilon": float(row.get("epsilon", 1e-3)),
            "momentum": float(row.get("momentum", 0.99)),
        }
    elif kind == "rescaling":
        options = {
            "scale": channel_values(row.get("scale", 1.0)),
            "offset": channel_values(row.get("offset", 0.0)),
        }
    else:
        options = {}
    for key in ("filters", "units"):
        if key in options and options[key] < 1:
            raise LayerError(f"{where}: {key} is {options[key]}; a layer needs at least 1")
    for key in ("kernel", "window", "strides", "dilation"):
        if key in options and min(options[key]) < 1:
            raise LayerError(f"{where}: {key} {_size(options[key])}; each must be at least 1")
    return options


def _keras_row(kind: str, layer: dict) -> dict:
    """A Keras layer config as a row of the declared form."""
    row = {"name": layer["name"], "kind": kind}
    activation = layer.get("activation")
    if kind in ("conv", "dense"):
        row["activation"] = {"linear": "none", None: "none"}.get(activation, activation)
    if kind == "conv":
        row.update(
            filters=layer["filters"],
            kernel_size=list(layer["kernel_size"]),
            strides=list(layer["strides"]),
            dilation=list(layer["dilation_rate"]),
            padding=layer["padding"],
        )
    elif kind in POOLINGS:
        row.update(
            pool_size=list(layer["pool_size"]),
            strides=list(layer["strides"] or layer["pool_size"]),
            padding=layer["padding"],
        )
    elif kind == "dense":
        row["units"] = layer["units"]
    elif kind == "dropout":
        row["rate"] = layer["rate"]
    elif kind == "batch_norm":
        row.update(epsilon=layer["epsilon"], momentum=layer["momentum"])
    elif kind == "rescaling":
        row.update(_rescaling(layer))
    return row


def _flat(value) -> list[float]:
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _flat(item)]
    return [float(value)]


def channel_values(value) -> float | list[float]:
    """A rescaling's scale or offset: one float for every channel, or a list of one per
    channel (a colour model's per-channel normalisation)."""
    values = _flat(value)
    if not values:
        raise LayerError("a rescaling needs a scale and an offset")
    return values[0] if len(set(values)) == 1 else values


def normalisation(mean, variance) -> dict:
    """A Normalization's (x - mean) / sqrt(variance), per channel, as x * scale + offset."""
    means, variances = _flat(mean), _flat(variance)
    if len(means) != len(variances):
        means, variances = means * len(variances), variances * len(means)  # one of them is 1
    scales = [1.0 / max(v**0.5, 1e-7) for v in variances]  # as Keras divides
    offsets = [-m * k for m, k in zip(means, scales)]
    return {"scale": channel_values(scales), "offset": channel_values(offsets)}


def _rescaling(layer: dict) -> dict:
    """A Rescaling's scale and offset, or a Normalization's, (x - mean) / sqrt(variance) as
    x * scale + offset, from the values its config holds (an adapted Normalization keeps them
    in its weights: network/from_keras.py reads them there)."""
    if "scale" in layer:
        return {"scale": channel_values(layer["scale"]), "offset": channel_values(layer["offset"])}
    if layer.get("mean") is None or layer.get("variance") is None:
        return {"scale": 1.0, "offset": 0.0}
    return normalisation(layer["mean"], layer["variance"])


# Names that stand for layers by their place in the table: name -> (the layers, meaning).
SELECTORS = {
    "first_convolution": (lambda t: t.convolutions[:1], "the first convolution"),
    "last_convolution": (lambda t: t.convolutions[-1:], "the last convolution"),
    "convolutions": (lambda t: t.convolutions, "every convolution"),
    "last_pooling": (lambda t: t.of_kind(*POOLINGS)[-1:], "the last pooling"),
    "last_spatial": (lambda t: t.spatial[-1:], "the last layer with a spatial output"),
    "last_hidden": (
        lambda t: [t.layers[-2].name] if len(t.layers) > 1 else [],
        "the layer below the output",
    ),
    "output": (lambda t: [t.output.name], "the output layer (the logits)"),
}
