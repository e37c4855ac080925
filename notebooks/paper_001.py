# %% [markdown]
# # Paper 001 — a local PL criterion and the positive initialisation
#
# Chatterjee (arXiv 2203.16462) gives a criterion that needs only the start of training.
# Take $f \ge 0$, a starting point $x_0$ and a radius $r$, and let
# $\alpha(x_0, r)$ be the smallest value of $\|\nabla f\|^2 / f$ on the ball of radius $r$
# around $x_0$. If $4 f(x_0) < r^2\,\alpha(x_0, r)$, gradient flow can never leave the ball:
# $f$ decays at least like $e^{-\alpha t}$, and the path is at most $2\sqrt{f(x_0)/\alpha}$
# long, which is less than $r$. So training converges linearly to an interpolating zero.
#
# For a feedforward net on linearly independent inputs the criterion can be met by
# construction. Set the first layer to zero, the hidden weights positive and the output
# weights large. Every input then has the same hidden states, so the gradient with respect to
# the first layer is $b\,(X^\top r)^\top$. Here $b$ is the backpropagated vector and $r$ the
# residual, which gives $\|\nabla f\|^2/f \ge 4\|b\|^2\lambda_{\min}(XX^\top)$. Now $b$ grows
# with the output scale $c$, while $f(x_0) = \|y\|^2$ stays put when $\sigma(0) = 0$.
#
# villani estimates $\alpha$ by descending $\|\nabla f\|^2/f$ over the ball. That gives an
# upper bound on the true infimum, so all we can say is "the criterion holds at the
# estimated α". villani then compares GD from the positive initialisation with Xavier, He
# and LeCun initialisations under two step-size rules. The counter-example has $X^\top y = 0$:
# the gradient at the positive start vanishes and the criterion fails.

# %%
from villani.report import show_paper


def main(quick=True, plot=True, seed=0):
    # float64, the run, the verdict table and the figures (inline in Jupyter, PNGs otherwise)
    return show_paper("001", quick=quick, plot=plot, seed=seed)


# %% [markdown]
# The first figure shows $L/L_0$ along GD at each method's best fixed step size (median over
# seeds with the inter-quartile band; the line is the target $10^{-8}$); the second the
# criterion's margin $r^2\hat\alpha/(4f(x_0))$ against the output scale $c$ of the positive
# initialisation (above 1: the criterion holds at the estimated α).

# %%
if __name__ == "__main__":
    main()
