"""Tests of the shared trainer, its losses and callbacks."""
