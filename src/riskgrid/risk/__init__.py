"""Pricing and risk library: vectorised NumPy pricers, market data, scenarios and measures.

Pure functions over arrays; nothing here reads files or imports other riskgrid packages.
Modules: :mod:`black_scholes` (BSM/GK formulas), :mod:`curves` (interpolation),
:mod:`market` (market data arrays), :mod:`portfolio` (positions), :mod:`scenarios`
(historical and stress), :mod:`revaluation` (PV and P&L blocks), :mod:`greeks`
(bump-and-revalue), :mod:`measures` (VaR/ES and allocation), :mod:`inputs` (a loaded job).
"""
