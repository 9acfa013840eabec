"""ModelRollout: a Kubernetes operator for safe rollouts of ML/LLM model versions."""

__version__ = "0.1.0"
