"""The `modelrollout` command (also installed as the kubectl plugin `kubectl modelrollout`)."""
