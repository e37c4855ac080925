# %% [markdown]
# # Paper 000 — when is the regularised logistic loss a Villani function?
#
# Gopalani, Jha & Mukherjee (arXiv 2309.09258) show that for two-layer nets with smooth
# bounded activations, adding a Frobenius penalty $\frac\lambda2\|\theta\|^2$ above a
# width-independent level turns the logistic risk into a *Villani function* (Shi, Su &
# Jordan): $\tilde L \to \infty$, $e^{-2\tilde L/s}$ is integrable and
# $V_s = \|\nabla\tilde L\|^2/s - \Delta\tilde L \to \infty$ at infinity. For such functions the
# SDE model of SGD with learning rate $s$ forgets its start exponentially fast, and SGD
# finds the global minimum from any initialisation.
#
# villani checks this three ways: $V_s$ along random and worst-case rays (with the exact
# Laplacian at the cost of a gradient), SGD from many seeds at several widths, and
# $\ge 1{,}000$ SDE particles whose mean loss must approach stationarity at a rate no
# smaller than the strong-convexity bound $\lambda - H$. Two counter-examples must fail:
# $\lambda = 0$, and saturated sigmoid gates (where SGD, unlike its SDE model, sees no
# gradient at all).

# %%
from villani.report import show_paper


def main(quick=True, plot=True, seed=0):
    # float64, the run, the verdict table and the figures (inline in Jupyter, PNGs otherwise)
    return show_paper("000", quick=quick, plot=plot, seed=seed)


# %%
if __name__ == "__main__":
    main()
