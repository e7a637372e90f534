"""Which inputs ``TBLogger.log_graph`` can trace, and the warning (in Lightning 2.6's words,
so filters and tests written for ``TensorBoardLogger`` match) for those it cannot."""

from __future__ import annotations

from typing import Any

NOT_GIVEN = (
    "Could not log computational graph to TensorBoard: The `model.example_input_array` attribute"
    " is not set or `input_array` was not given."
)
UNTRACEABLE = (
    "Could not log computational graph to TensorBoard: The `input_array` or"
    " `model.example_input_array` has type {type} which can't be traced by TensorBoard. Make the"
    " input array a tuple representing the positional arguments to the model's `forward()`"
    " implementation."
)


def untraceable(input_array: Any) -> str | None:
    """The warning for an ``input_array`` that cannot be traced (``None``, or neither a
    ``torch.Tensor`` nor a tuple), else ``None``."""
    if input_array is None:
        return NOT_GIVEN
    from torch import Tensor

    if not isinstance(input_array, (Tensor, tuple)):
        return UNTRACEABLE.format(type=type(input_array))
    return None
