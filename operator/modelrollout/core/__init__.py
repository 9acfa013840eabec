"""Pure decisions: (spec, status, observed state, analysis summary, now) -> (status, actions).

Nothing here talks to Kubernetes, Prometheus or the network; the import contract enforces it.
"""
