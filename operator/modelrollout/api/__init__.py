"""The resource API: pydantic models of ModelVersion and Rollout, the single source of the CRDs."""
