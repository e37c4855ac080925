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
import jax

from villani.experiments.papers import paper_001


def main(quick=True, plot=True, seed=0):
    jax.config.update("jax_enable_x64", True)
    config = paper_001.QUICK if quick else paper_001.FULL
    result = paper_001.run(config, jax.random.key(seed))
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
