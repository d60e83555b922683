"""Training scripts for the guard classifiers (dev-only: they need scikit-learn)."""
