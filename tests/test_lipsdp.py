from pathlib import Path

import numpy as np
import pytest

from eos.robustness.upper_bounds import lipsdp, spectral_product
from eos.robustness.weights import load_mat_weights

REF = Path(__file__).resolve().parent / "data" / "lipsdp"


@pytest.mark.parametrize(
    "name,form,published",
    [
        ("random_weights.mat", "neuron", 36.482),
        ("random_weights.mat", "layer", 39.839),
        ("mnist_weights.mat", "neuron", 24.37),
    ],
)
def test_lipsdp_reproduces_published_values(name, form, published):
    w = load_mat_weights(REF / name)
    res = lipsdp(w, form)
    assert res.ok, res
    assert abs(res.bound - published) <= 1e-3 * published, (name, form, res.bound, published)
    assert res.bound <= spectral_product(w)


@pytest.mark.parametrize("seed", range(4))
def test_lipsdp_lies_between_a_gradient_norm_and_the_spectral_product(seed):
    rng = np.random.default_rng(seed)
    w = [rng.normal(size=(8, 3)), rng.normal(size=(6, 8)), rng.normal(size=(1, 6))]
    res = lipsdp(w, "neuron")
    layer = lipsdp(w, "layer")
    assert res.ok and layer.ok
    # ∇f(x) = W₂ D₁ W₁ D₀ W₀ at a random x: a lower bound on Lip.
    x = rng.normal(size=3)
    h0 = w[0] @ x
    d0 = (h0 > 0).astype(float)
    d1 = (w[1] @ np.maximum(h0, 0) > 0).astype(float)
    grad = w[2] @ (d1[:, None] * w[1]) @ (d0[:, None] * w[0])
    assert np.linalg.norm(grad) <= res.bound * (1 + 1e-7)
    assert res.bound <= layer.bound * (1 + 1e-7) <= spectral_product(w) * (1 + 1e-6)


def test_input_rank_reduction_does_not_change_the_bound():
    rng = np.random.default_rng(7)
    low_rank = rng.normal(size=(6, 2)) @ rng.normal(size=(2, 12))  # rank 2 first layer on R^12
    w = [low_rank, rng.normal(size=(1, 6))]
    reduced = lipsdp(w, "neuron")
    # The same network written with an explicit orthonormal basis of the row space.
    q, _ = np.linalg.qr(low_rank.T)
    full = lipsdp([low_rank @ q, w[1]], "neuron")
    assert reduced.lmi_size == 2 + 6
    assert abs(reduced.bound - full.bound) <= 1e-6 * full.bound


def test_unreadable_or_wrong_mat_files_raise_value_error(tmp_path):
    from scipy.io import savemat

    (tmp_path / "junk.mat").write_bytes(b"not a mat file")
    savemat(tmp_path / "other.mat", {"w": np.eye(2)})
    for name, needle in (("junk.mat", "cannot read"), ("other.mat", "no 'weights'")):
        with pytest.raises(ValueError, match=needle):
            load_mat_weights(tmp_path / name)


def test_a_printed_certificate_is_never_below_the_value_it_certifies():
    """Upper bounds are printed rounded up and lower bounds down, at the digits shown."""
    from decimal import Decimal

    from eos.results.rounding import down, down_fixed, up, up_fixed

    rng = np.random.default_rng(0)
    for x in np.concatenate([rng.uniform(0, 2000, 500), 10.0 ** rng.uniform(-8, 8, 500), [1141.0327, 24.36631]]):
        assert Decimal(up(x)) >= Decimal(float(x)) >= Decimal(down(x)), x
        assert Decimal(up_fixed(x)) >= Decimal(float(x)) >= Decimal(down_fixed(x)), x
        assert float(up(x)) <= x * (1 + 1e-5) and float(down(x)) >= x * (1 - 1e-5)


def test_eos_lipschitz_prints_its_certificate_rounded_up(tmp_path):
    import re
    from decimal import Decimal

    from helpers import run

    from eos.robustness.upper_bounds import lipsdp
    from eos.robustness.weights import load_mat_weights

    path = Path(__file__).resolve().parent / "data" / "lipsdp" / "random_weights.mat"
    code, out, err = run(["lipschitz", str(path)], tmp_path)
    assert code == 0, err
    printed = Decimal(re.search(r"bound: (\S+)", out).group(1))
    assert printed >= Decimal(lipsdp(load_mat_weights(path), "neuron").bound), out
