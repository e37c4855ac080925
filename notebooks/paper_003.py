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
from villani.report import show_paper


def main(quick=True, plot=True, seed=0):
    # float64, the run, the verdict table and the figures (inline in Jupyter, PNGs otherwise)
    return show_paper("003", quick=quick, plot=plot, seed=seed)


# %% [markdown]
# The first figure shows the excess risk against $T$ on log–log axes with each series' fitted
# slope (network and kernel SGD for each $r$, and the tanh counter-example, which stays flat);
# the second the NTK drift against the width with its fitted exponent and the $M^{-1/2}$
# reference.

# %%
if __name__ == "__main__":
    main()
