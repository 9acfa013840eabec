"""Adapters: Kubernetes and Prometheus behind small interfaces, plus pure manifest builders."""
