"""The private Keras APIs of core/models/keras_internals.py still exist and still mean what they
meant in the Keras version they were written for: an upgrade that removes one fails here, by name,
before any model is flattened wrong."""

from __future__ import annotations

import keras
import numpy as np

from core.models import keras_internals


def small() -> keras.Model:
    inputs = keras.Input((4, 4, 3))
    x = keras.layers.Conv2D(2, 3, padding="same", name="conv")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, name="logit")(x))


def test_producer_is_the_layer_that_made_a_tensor():
    model = small()
    assert hasattr(model.outputs[0], "_keras_history"), (
        f"KerasTensor._keras_history is gone (Keras {keras.__version__}; written for "
        f"{keras_internals.WRITTEN_FOR})"
    )
    assert keras_internals.producer(model.outputs[0]) is model.get_layer("logit")


def test_run_graph_calls_our_function_for_every_operation():
    model = small()
    assert hasattr(model, "_run_through_graph"), (
        f"Functional._run_through_graph is gone (Keras {keras.__version__}; written for "
        f"{keras_internals.WRITTEN_FOR})"
    )
    seen = []

    def each(operation):
        seen.append(operation.name)
        return operation

    x = np.ones((1, 4, 4, 3), np.float32)
    out = keras_internals.run_graph(model, x, each)
    assert seen == ["conv", "logit"]
    np.testing.assert_allclose(np.asarray(out), np.asarray(model(x)), rtol=1e-6)
