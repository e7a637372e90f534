"""TensorFlow and JAX values go through every add_* like numpy arrays do (torch has its own tests)."""

from __future__ import annotations

import numpy as np
import pytest
from tb import accumulator, array


@pytest.mark.parametrize("framework", ["tensorflow", "jax"])
def test_tensorflow_and_jax_values(tmp_path, framework):
    import tblog

    if framework == "tensorflow":
        tf = pytest.importorskip("tensorflow")
        const = tf.constant
        bf16 = lambda a: tf.cast(tf.constant(a), tf.bfloat16)  # noqa: E731
    else:
        jnp = pytest.importorskip("jax.numpy")
        const = jnp.asarray
        bf16 = lambda a: jnp.asarray(a, dtype=jnp.bfloat16)  # noqa: E731
    rng = np.random.default_rng(0)
    values = rng.normal(size=1000).astype(np.float32)
    image = rng.random((3, 8, 8)).astype(np.float32)
    with tblog.SummaryWriter(tmp_path) as w:
        w.add_scalar("scalar", const(1.5), const(3))
        w.add_scalar("bf16", bf16(0.25), 4)
        w.add_histogram("hist", const(values), 5)
        w.add_image("img", const(image), 6)
        w.add_scalars("grp", {"a": const(2.0)}, 7)
    acc = accumulator(tmp_path)
    assert [(e.step, float(array(e))) for e in acc.Tensors("scalar")] == [(3, 1.5)]
    assert [(e.step, float(array(e))) for e in acc.Tensors("bf16")] == [(4, 0.25)]
    (hist,) = acc.Tensors("hist")
    assert hist.step == 5 and array(hist)[:, 2].sum() == 1000
    # SummaryWriter writes torch's HistogramProto: the reference is that of the same numpy
    # values, as TensorBoard's loader converts it
    from tensorboard import data_compat

    histogram = tblog.core.summaries.histogram
    reference = histogram.histogram_pb("hist", values, encoding=histogram.HISTO)
    migrated = data_compat.migrate_value(reference.value[0])
    np.testing.assert_array_equal(array(hist), tb.tensor_util.make_ndarray(migrated.tensor))
    (img,) = acc.Tensors("img")
    assert img.step == 6 and array(img)[:2].tolist() == [b"8", b"8"]
    assert [e.step for e in accumulator(tmp_path / "grp_a").Tensors("grp")] == [7]


import tb  # noqa: E402
