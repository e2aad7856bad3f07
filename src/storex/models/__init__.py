"""Recommenders behind one contract: baselines and graph neural networks."""
