"""The two private Keras APIs this project leans on, in one place, each with the Keras version it
was written for (3.15) and a test that fails loudly when an upgrade removes it
(tests/test_model.py::test_the_keras_internals_we_use_still_exist).

Keras 3 has no public way to ask which operation made a symbolic tensor, nor to re-run a
functional model's graph op by op; both are what flattening a nested model and finding its final
activation need.
"""

from __future__ import annotations

from typing import Callable

import keras

WRITTEN_FOR = "3.15"


def producer(tensor) -> keras.Operation:
    """The layer or operation whose output the symbolic `tensor` is (KerasTensor._keras_history,
    Keras 3.15: a (operation, node_index, tensor_index) named tuple)."""
    return tensor._keras_history.operation


def run_graph(model: keras.Model, inputs, operation_fn: Callable) -> object:
    """Run a functional `model`'s graph on `inputs`, each operation replaced by
    `operation_fn(operation)` (keras.src.ops.function.Function._run_through_graph, Keras 3.15)."""
    return model._run_through_graph(inputs, operation_fn=operation_fn)
