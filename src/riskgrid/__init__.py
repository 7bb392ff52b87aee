"""riskgrid: secure-by-design, self-service grid risk calculation."""

__version__ = "0.1.0"
