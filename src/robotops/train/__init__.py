"""Training: model inputs from a dataset version, the training loop, tracking and sweeps."""
