"""Fine-tune the classifier: the head on cached features (phase 1), then the top stage (phase 2).

Phase 2 runs only when asked for (`TrainConfig.fine_tune_epochs`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from core.data.folders import DataFolders, Split, augmenter, image_dataset
from core.models.build import FEATURES, HEAD, LOGIT  # the classifier's layers the recipe relies on

# Classes from which top-5 accuracy is reported beside accuracy.
TOP5_FROM = 10


@dataclass(frozen=True)
class TrainConfig:
    # Phase 1 (head) epochs: on cached features they take well under a second each.
    epochs: int = 20
    fine_tune_epochs: int = 0  # phase 2 epochs with the top stage unfrozen: minutes each on a CPU
    batch_size: int = 16  # the seed article's
    learning_rate: float = 1e-3  # phase 1, Adam
    # Phase 2: low, so the ImageNet features are nudged, not wiped.
    fine_tune_learning_rate: float = 1e-5
    # The first layer unfrozen in phase 2: ResNet-50's last stage starts here.
    fine_tune_from: str = "conv5_block1_1_conv"
    patience: int = 3  # early stopping on validation loss; the best epoch's weights are kept
    validation_fraction: float = 0.2  # held out of train when the dataset has no validation split
    seed: int = 1337  # shuffling, flips, hold-out
    rotation: float = 0.0  # optional augmentation: fraction of a full turn
    zoom: float = 0.0  # optional augmentation: fraction of the size
    backbone_weights: str = "imagenet"  # "imagenet", "none" (random: offline smoke runs) or a file
    strategy: str = "auto"  # "auto", "default", "mirrored" (all local GPUs, or all logical CPUs)
    # When the finished run becomes the current model: "if-better" (better than the current one
    # on the same validation set, or there is none to compare with) or "always".
    publish: str = "if-better"


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The default strategy on one device; MirroredStrategy over several GPUs (or logical CPUs).

    Several machines: set TF_CONFIG on each and pass "multi-worker" (MultiWorkerMirroredStrategy).
    """
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(
            gpus or [d.name for d in tf.config.list_logical_devices("CPU")]
        )
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown strategy {name!r}: use auto, default, mirrored or multi-worker.")


def extract_features(
    model: keras.Model, split: Split, batch_size: int, flips: bool, monitor=None, done: int = 0
) -> tuple:
    """Pooled backbone features of every photo (and its mirror image), computed once, reused.

    The monitor hears photos: `done` before this pass, plus those of this pass, so that the
    training and the validation passes make one count that only moves forward.
    """
    backbone = keras.Model(model.input, model.get_layer(FEATURES).output)
    features_of = tf.function(lambda x: backbone(x, training=False))
    size = model.input_shape[1]
    features, labels = [], []
    for step, (images, y) in enumerate(image_dataset(split, size, batch_size)):
        batch = tf.concat([images, tf.reverse(images, axis=[2])], 0) if flips else images
        features.append(features_of(batch).numpy())
        labels.append(np.concatenate([y, y]) if flips else y.numpy())
        if monitor:
            monitor.update(done + min((step + 1) * batch_size, len(split.paths)))
            if monitor.stop_requested():
                return None, None
    return np.concatenate(features), np.concatenate(labels)


def head_model(model: keras.Model) -> keras.Model:
    """Dropout + dense over pooled features: a copy of the classifier's head, from its weights.

    The dense layer is as wide as the classifier's: 1 logit for two classes, K for K > 2.
    """
    inputs = keras.Input(model.get_layer(FEATURES).output.shape[1:])
    dropout = keras.layers.Dropout(model.get_layer(HEAD).rate)
    dense = keras.layers.Dense(model.get_layer(LOGIT).units, name=LOGIT)
    head = keras.Model(inputs, dense(dropout(inputs)))
    dense.set_weights(model.get_layer(LOGIT).get_weights())
    return head


def compile_classifier(model: keras.Model, learning_rate: float) -> None:
    """Adam and a from-logits loss for the model's head: one logit (two classes) or K logits.

    The accuracy is named "accuracy" either way, so the curves and the ETA read the same; K >= 10
    adds "top5_accuracy". Labels arrive as float32 (image_dataset); the sparse loss and metrics
    cast them to class indices.
    """
    units = model.output_shape[-1]
    if units == 1:
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
        # The threshold is on the logit: logit > 0 means class 1.
        metrics = [keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        if units >= TOP5_FROM:
            metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5_accuracy"))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=metrics)


def class_weights(labels, num_classes: int = 2) -> dict[int, float]:
    """Balanced weights n / (K * count) of K = `num_classes` classes, from (N,) class indices.

    So a lopsided folder (say 90 % dogs) does not teach "always dog". A class absent from `labels`
    gets no entry.
    """
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=num_classes)
    return {i: float(counts.sum() / (num_classes * c)) for i, c in enumerate(counts) if c}


def kept_logits(logits: np.ndarray) -> np.ndarray:
    """(N,) for a one-logit head, as before K classes; (N, K) otherwise, every column kept."""
    return logits[:, 0] if logits.shape[-1] == 1 else logits


def train_head_cached(
    model,
    data: DataFolders,
    config: TrainConfig,
    callbacks=(),
    monitor=None,
    flips=True,
    shuffle=True,
    verbose=0,
) -> dict | None:
    """Phase 1: the frozen backbone runs once per photo; the head trains on the cached features."""
    if monitor:  # one count of photos over both passes
        monitor.begin("features", 1, len(data.train.paths) + len(data.validation.paths))
    train_x, train_y = extract_features(model, data.train, config.batch_size, flips, monitor)
    if train_x is None:
        return None
    val_x, val_y = extract_features(
        model, data.validation, config.batch_size, False, monitor, len(data.train.paths)
    )
    if val_x is None:
        return None
    head = head_model(model)
    compile_classifier(head, config.learning_rate)
    if monitor:
        monitor.begin("head", config.epochs, math.ceil(len(train_x) / config.batch_size))
    history = head.fit(
        train_x,
        train_y,
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_data=(val_x, val_y),
        shuffle=shuffle,
        class_weight=class_weights(train_y, len(data.class_names)),
        callbacks=list(callbacks),
        verbose=verbose,
    )
    model.get_layer(LOGIT).set_weights(head.get_layer(LOGIT).get_weights())
    return {"history": history.history, "val_logits": kept_logits(head.predict(val_x, verbose=0))}


def train_head_uncached(
    model, data: DataFolders, config: TrainConfig, callbacks=(), augment=True
) -> dict:
    """Phase 1 the plain way, for comparison: every epoch runs every photo through the backbone."""
    for layer in model.layers:
        layer.trainable = layer.name == LOGIT
    compile_classifier(model, config.learning_rate)
    size = model.input_shape[1]
    flips = augmenter(config.seed) if augment else None
    history = model.fit(
        image_dataset(
            data.train, size, config.batch_size, config.seed if augment else None, flips
        ),
        validation_data=image_dataset(data.validation, size, config.batch_size),
        epochs=config.epochs,
        class_weight=class_weights(data.train.labels, len(data.class_names)),
        callbacks=list(callbacks),
        shuffle=False,
        verbose=0,
    )
    return {"history": history.history}


def fine_tune(
    model, data: DataFolders, config: TrainConfig, callbacks=(), monitor=None, verbose=0
) -> dict:
    """Phase 2: unfreeze from `fine_tune_from` on (BatchNorm stays frozen), low learning rate."""
    unfrozen = False
    for layer in model.layers:
        unfrozen = unfrozen or layer.name == config.fine_tune_from
        layer.trainable = unfrozen and not isinstance(layer, keras.layers.BatchNormalization)
    compile_classifier(model, config.fine_tune_learning_rate)
    size = model.input_shape[1]
    train_set = image_dataset(
        data.train,
        size,
        config.batch_size,
        config.seed,
        augmenter(config.seed, config.rotation, config.zoom),
    )
    if monitor:
        monitor.begin(
            "fine-tune",
            config.fine_tune_epochs,
            math.ceil(len(data.train.paths) / config.batch_size),
        )
    history = model.fit(
        train_set,
        validation_data=image_dataset(data.validation, size, config.batch_size),
        epochs=config.fine_tune_epochs,
        class_weight=class_weights(data.train.labels, len(data.class_names)),
        callbacks=list(callbacks),
        # The dataset shuffles itself, each epoch.
        shuffle=False,
        verbose=verbose,
    )
    val_logits = predict_logits(model, data.validation, config.batch_size)
    return {"history": history.history, "val_logits": val_logits}


def predict_logits(model: keras.Model, split: Split, batch_size: int) -> np.ndarray:
    """The model's logits for a split's photos, decoded as in training: (N,) or (N, K)."""
    photos = image_dataset(split, model.input_shape[1], batch_size)
    return kept_logits(model.predict(photos, verbose=0))
