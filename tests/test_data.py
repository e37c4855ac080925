import jax
import jax.numpy as jnp
import numpy as np
import pytest

from villani import data, nets


def test_dataset_validation():
    with pytest.raises(ValueError, match="y: length 3"):
        data.Dataset(jnp.ones((4, 2)), jnp.ones(3))
    with pytest.raises(ValueError, match="x: expected shape"):
        data.Dataset(jnp.ones(4), jnp.ones(4))
    with pytest.raises(ValueError, match="x: expected finite"):
        data.Dataset(jnp.array([[1.0], [jnp.nan]]), jnp.ones(2))
    with pytest.raises(ValueError, match="y: expected finite"):
        data.Dataset(jnp.ones((2, 1)), jnp.array([1.0, jnp.inf]))
    # n = 0 would make every loss a mean over nothing: NaN
    with pytest.raises(ValueError, match=r"x: expected at least one sample \(n >= 1\), got shape \(0, 3\)"):
        data.Dataset(jnp.ones((0, 3)), jnp.ones(0))


def test_dataset_pytree_roundtrip_and_vmap(key):
    ds = data.random_labels(key, 6, 3)
    leaves, tree = jax.tree_util.tree_flatten(ds)
    back = jax.tree_util.tree_unflatten(tree, leaves)
    np.testing.assert_array_equal(back.x, ds.x)
    many = jax.vmap(lambda k: data.random_labels(k, 6, 3))(jax.random.split(key, 4))
    assert many.x.shape == (4, 6, 3)


@pytest.mark.parametrize("cond", [1.0, 10.0, 1000.0])
def test_linearly_independent(key, cond):
    ds = data.linearly_independent(key, 10, 20, condition=cond)
    np.testing.assert_allclose(jnp.linalg.norm(ds.x, axis=1), 1.0, rtol=1e-12)
    ev = np.linalg.eigvalsh(np.asarray(ds.x @ ds.x.T))
    assert ev[0] > 0
    np.testing.assert_allclose(ev[-1] / ev[0], cond, rtol=1e-8)


def test_linearly_independent_bad_input(key):
    with pytest.raises(ValueError, match="d >= n"):
        data.linearly_independent(key, 10, 5)
    with pytest.raises(ValueError, match="condition"):
        data.linearly_independent(key, 3, 5, condition=0.5)
    with pytest.raises(TypeError, match="n"):
        data.linearly_independent(key, 3.0, 5)


def test_generators_are_deterministic_and_shaped(key):
    a = data.random_labels(key, 50, 4)
    b = data.random_labels(key, 50, 4)
    np.testing.assert_array_equal(a.x, b.x)
    assert set(np.unique(np.asarray(a.y))) <= {-1.0, 1.0}
    ts = data.teacher_student(key, nets.two_layer(3), 20, 4, noise=0.1)
    assert ts.x.shape == (20, 4) and ts.y.shape == (20,)
    gm = data.gaussian_mixture(key, 2000, 5, separation=3.0)
    # the class means are separated by `separation`
    mu_p = gm.x[gm.y > 0].mean(0)
    mu_n = gm.x[gm.y < 0].mean(0)
    assert abs(float(jnp.linalg.norm(mu_p - mu_n)) - 3.0) < 0.1
    with pytest.raises(ValueError, match="noise"):
        data.teacher_student(key, nets.two_layer(3), 5, 2, noise=-1.0)


def test_real_datasets():
    pytest.importorskip("sklearn")
    bc = data.breast_cancer()
    assert bc.x.shape == (569, 30) and set(np.unique(np.asarray(bc.y))) == {-1.0, 1.0}
    np.testing.assert_allclose(bc.x.mean(0), 0.0, atol=1e-10)
    dg = data.digits(3, 8)
    assert dg.d == 64 and set(np.unique(np.asarray(dg.y))) == {-1.0, 1.0}
    with pytest.raises(ValueError, match="negative"):
        data.digits(3, 3)


def test_dataset_built_inside_jit_from_concrete_arrays(key):
    # inside jit, jnp ops on closed-over constants are traced: validation must not break
    x, y = jax.random.normal(key, (5, 2)), jnp.ones(5)
    out = jax.jit(lambda: data.Dataset(x, y).x.sum())()
    np.testing.assert_allclose(out, x.sum())


def test_margin_separable(key):
    from villani.data import margin_separable

    ds = margin_separable(key, 400, 6, 0.2)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(ds.x), axis=1), 1.0, atol=1e-12)
    assert set(np.unique(np.asarray(ds.y))) == {-1.0, 1.0}
    assert np.min(np.asarray(ds.y * ds.x[:, 0])) >= 0.2 - 1e-12
    # samples already outside the margin are unchanged (compare with the raw sphere draw)
    raw = np.asarray(data.unit_sphere(key, 400, 6))
    far = np.abs(raw[:, 0]) >= 0.2
    np.testing.assert_allclose(np.asarray(ds.x)[far], raw[far], atol=1e-12)
    with pytest.raises(ValueError, match="margin"):
        margin_separable(key, 10, 3, 1.5)
