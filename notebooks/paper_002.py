# %% [markdown]
# # Paper 002 — proxy convexity and proxy PL inequalities
#
# Frei & Gu (arXiv 2106.13792) observe that many non-convex neural-network losses still
# satisfy a weakened convexity: $\langle\nabla f(w), w - v\rangle \ge g(w) - h(v)$ for some
# *proxy* $g$ (convexity is the case $g = h = f$). Plugging this into the usual descent-lemma
# telescoping shows that gradient descent makes the proxy small on average; if moreover the
# gradient is bounded below by a function of the proxy (a *proxy PL* inequality), the proxy
# itself goes to zero at an explicit rate.
#
# villani checks this on the paper's worked examples. (E1) A single leaky-ReLU neuron with
# realisable labels is $(2\gamma F, 0)$-proxy convex at the teacher: the convexity gap is
# measured at every GD step, the averaged bound and the proxy PL bound
# $\|\nabla F\| \ge 2\gamma F/\|w - v^*\|$ are checked for every $T$, and the distance to the
# teacher never grows. (E2) A two-layer leaky-ReLU classifier on data with margin obeys
# $\|\nabla L\|_F \ge \gamma_l\gamma_m G(W)$ at every $W$, and the 0-1 error is at most $2G$.
# The counter-example: a ReLU neuron started where it is dead on every sample has zero gradient
# and never moves, while the same start with a leaky slope of 0.1 converges.

# %%
import jax

from villani.experiments.papers import paper_002


def main(quick=True, plot=True, seed=0):
    jax.config.update("jax_enable_x64", True)  # float64 round-off floors
    config = paper_002.QUICK if quick else paper_002.FULL
    result = paper_002.run(config, jax.random.key(seed))
    if plot:
        import matplotlib.pyplot as plt

        plt.show()
    else:
        import matplotlib.pyplot as plt

        for fig in result.figures.values():
            plt.close(fig)
    for v in result.verdicts:
        flag = "ok " if v.as_expected else "BAD"
        print(f"[{flag}] holds={v.holds!s:5} expected={v.expected!s:5} {v.claim}")
        print(f"      measured: {v.measured}\n      predicted: {v.predicted}")
    return result


# %% [markdown]
# The first figure shows $F$ along GD and $\|\nabla F\|$ against $F$ (slope about 1/2: the
# loss is PL near the teacher, stronger than the proxy-PL bound's exponent 1); the second,
# for the classifier, $G$ with its derived bound and the 0-1 error.

# %%
if __name__ == "__main__":
    main()
