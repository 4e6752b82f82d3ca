"""One compiled Keras model reused across the fits of one configuration (a trial's folds).

TensorFlow traces a model's train and evaluation steps on its first fit: 1.6 s of a 2.3 s fit of
the Keras RealMLP on 265 rows, paid again by each of a small dataset's 15 folds (JAX compiles them,
about 2 s). The last model built is kept with its variables' initial values. A fit of the same
configuration restores them (the dropout seeds' state included) and the optimizer's (its step
count and moments to zero, its learning rate to the built one): the model a new build would give,
with its traced steps. The fitted estimator keeps its own copy (:func:`detached`), never the
shared model (a new build with the trained weights), so that the next fold cannot change it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

_LAST: dict[str, Any] = {}


def reusable(key: Hashable, hypermodel: Any, hp: Any) -> tuple[Any, Any, bool]:
    """The model ``hypermodel.build(hp)`` gives, built or restored, with ``hp`` as the build left it
    (every hyper-parameter the build reads defined); True when the model is the kept one (shared)."""
    if _LAST.get("key") == key:
        model = _LAST["model"]
        for variable, value in zip(model.variables, _LAST["values"], strict=True):
            variable.assign(value)
        for variable in model.optimizer.variables:
            if variable.path.endswith("learning_rate"):
                variable.assign(_LAST["learning_rate"])
            else:
                variable.assign(np.zeros(variable.shape, dtype=variable.dtype))
        hypermodel.monitor = _LAST["monitor"]  # what build() would have set
        return model, _LAST["hp"], True
    _LAST.clear()  # the previous model is released before the next is built
    model = hypermodel.build(hp)
    if getattr(model, "optimizer", None) is None:
        return model, hp, False  # not compiled by its hypermodel: nothing to reuse
    _LAST.update(
        key=key, model=model, values=[np.array(v.numpy()) for v in model.variables],
        learning_rate=float(np.asarray(model.optimizer.learning_rate)),
        monitor=getattr(hypermodel, "monitor", "val_loss"), hp=hp,
    )
    return model, hp, True


def detached(hypermodel: Any, hp: Any, model: Any) -> Any:
    """A new build of ``model``'s configuration with its trained weights: it shares no layer or
    variable with ``model`` (``keras.models.clone_model`` would do, but imports TensorFlow on JAX)."""
    copy = hypermodel.build(hp)
    copy.set_weights(model.get_weights())
    return copy


def forget() -> None:
    """Release the kept model (tests; a process that is done with Keras)."""
    _LAST.clear()
