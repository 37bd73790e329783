"""A model trained elsewhere, for examples/own-model.yaml: the Keras team's own MNIST example
(keras-io's examples/vision/mnist_convnet.py), built and trained as that example does, on a
data set's four IDX files, then saved as a .keras file. It uses Keras and NumPy only, none
of this project, as a model a user brings would.

    python examples/own_model.py ../shared/data/mnist-subset resources/own-model/model.keras
    make run DATA=../shared/data/mnist-subset CONFIG=examples/own-model.yaml

One epoch is enough to see its filters (the example trains 15); --epochs sets more.
"""

import argparse
import gzip
from pathlib import Path

import keras
import numpy as np
from keras import layers

FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes (LeCun's format), gzipped or not."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[:3] != b"\x00\x00\x08":
        raise SystemExit(f"{path}: not an IDX file of unsigned bytes")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def keras_io_convnet(input_shape=(28, 28, 1), num_classes: int = 10) -> keras.Model:
    """keras-io's mnist_convnet.py model, as its example builds it."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder with the four IDX files")
    parser.add_argument("output", type=Path, help="the .keras file to write")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    keras.utils.set_random_seed(args.seed)
    arrays = {key: read_idx(args.data / name) for key, name in FILES.items()}

    # From here on as keras-io's mnist_convnet.py: scale to [0, 1], one channel, one-hot labels.
    num_classes = 10
    input_shape = (28, 28, 1)
    x_train = np.expand_dims(arrays["x_train"].astype("float32") / 255, -1)
    x_test = np.expand_dims(arrays["x_test"].astype("float32") / 255, -1)
    y_train = keras.utils.to_categorical(arrays["y_train"], num_classes)
    y_test = keras.utils.to_categorical(arrays["y_test"], num_classes)
    model = keras_io_convnet(input_shape, num_classes)
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=128, epochs=args.epochs, validation_split=0.1, verbose=2)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Test loss {loss:.4f}, test accuracy {accuracy:.4f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
