# %% [markdown]
# # Paper 004 — Nesterov's accelerated gradient on two-layer ReLU nets
#
# Liu, Pan et al. (arXiv 2107.01832) prove that on an over-parameterised two-layer ReLU
# network NAG drives the training error to zero at a per-step rate $1 - \Theta(1/\sqrt\kappa)$,
# where plain GD only manages $1 - \Theta(1/\kappa)$; heavy-ball behaves like NAG.
#
# Why: when the network is wide and the labels small, the weights hardly move, so the
# activation patterns and the Gram matrix $H = JJ^\top$ of the output Jacobian stay put. The
# residual $r_t = u_t - y$ then evolves *linearly*, $r_{t+1} \approx (I - \eta H) r_t$, exactly
# like gradient descent on the quadratic $\frac12 r^\top H^{-1} r$. Everything known about
# momentum on quadratics carries over, with $\kappa = \lambda_{\max}(H)/\lambda_{\min}(H)$.
#
# villani turns one knob — the angle $\theta$ between two inputs, which sets
# $\lambda_{\min}(H) \approx \theta/2\pi$ — measures $\kappa$ of the empirical Gram at
# initialisation, runs GD, NAG and heavy-ball at their textbook parameters, fits each per-step
# rate $\rho$ and regresses $\log(1-\rho)$ on $\log\kappa$. GD should give slope $-1$, the
# momentum methods $-1/2$. The runs are `villani.train` with `optim.gd`, `optim.nesterov` and
# `optim.heavy_ball` (optax's Nesterov iterate is the look-ahead point $V_t$; its rate is the
# paper's). Three counter-examples: NAG with a fixed $\beta = 0.5$ is *not* accelerated
# (slope $\approx -1$); NAG with $\beta = 0.999$ is slower than GD; and on a narrow net with
# large labels the Gram matrix drifts during training, so GD's rate no longer follows
# $\kappa(H(0))$.

# %%
from villani.report import show_paper


def main(quick=True, plot=True, seed=0):
    # float64, the run, the verdict table and the figures (inline in Jupyter, PNGs otherwise)
    return show_paper("004", quick=quick, plot=plot, seed=seed)


# %% [markdown]
# The first figure shows $1-\rho$ against the measured $\kappa$ on log–log axes with each
# method's fitted slope; the second the residual curves of the hardest problem, with the
# fit window shaded.

# %%
if __name__ == "__main__":
    main()
