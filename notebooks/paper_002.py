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
from villani.report import show_paper


def main(quick=True, plot=True, seed=0):
    # float64, the run, the verdict table and the figures (inline in Jupyter, PNGs otherwise)
    return show_paper("002", quick=quick, plot=plot, seed=seed)


# %% [markdown]
# The first figure shows $F$ along GD and $\|\nabla F\|$ against $F$ (slope about 1/2: the
# loss is PL near the teacher, stronger than the proxy-PL bound's exponent 1); the second,
# for the classifier, $G$ with its derived bound and the 0-1 error.

# %%
if __name__ == "__main__":
    main()
