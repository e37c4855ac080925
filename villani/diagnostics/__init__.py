"""Exact diagnostics: Laplacian, PL ratios, Villani conditions, NTK and Hessian spectra, rates."""

# --- laplacian.py, villani.py (lap) ---


# --- ntk.py, spectrum.py (ntk) ---


# --- pl.py, rates.py (pl) ---
