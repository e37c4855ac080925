# %% [markdown]
# # Paper 003 — last-iterate SGD for two-layer nets in the NTK regime
#
# Cao, Guo and Shi (arXiv 2407.07670) study online SGD, one fresh sample per step, on a wide
# two-layer net. Near its initialisation the net behaves like kernel regression with the
# neural tangent kernel (NTK). Suppose the target is "r-smooth" with respect to that kernel:
# it equals $L_K^r h$ for a square-integrable $h$. Then the last iterate's excess risk decays
# like $T^{-2r/(2r+1)}$, up to a width-dependent error, and the width needed grows only
# polynomially.
#
# villani puts the inputs on the unit circle. There the NTK is a function of the angle
# between inputs, its eigenfunctions are Fourier modes, and one FFT of $\kappa(\cos u)$
# gives its eigenvalues $\mu_k$. That lets us build a teacher of regularity exactly $r$.
# We measure the slope of log excess risk against log T and compare it with
# $-2r/(2r+1)$. We run kernel SGD with the limiting NTK on the same stream as the baseline,
# and measure how far the finite-width NTK drifts during training as the width grows. In
# the counter-example a tanh net without biases can only represent odd functions, so an even
# target stays out of reach and the risk plateaus.

# %%
import jax

from villani.experiments.papers import paper_003


def main(quick=True, plot=True, seed=0):
    jax.config.update("jax_enable_x64", True)
    config = paper_003.QUICK if quick else paper_003.FULL
    result = paper_003.run(config, jax.random.key(seed))
    if plot:
        import matplotlib.pyplot as plt

        for fig in result.figures.values():
            fig.show()
        plt.show()
    for v in result.verdicts:
        mark = "ok " if v.as_expected else "BAD"
        print(f"[{mark}] holds={v.holds!s:5} expected={v.expected!s:5} {v.claim}")
        print(f"      measured: {v.measured}")
        print(f"      predicted: {v.predicted}")
    return result


# %%
if __name__ == "__main__":
    main()
