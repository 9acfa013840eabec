"""Label and annotation keys the operator puts on the objects it owns."""

ROLLOUT_LABEL = "modelrollout.io/rollout"
VERSION_LABEL = "modelrollout.io/version"
MODEL_LABEL = "modelrollout.io/model"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "modelrollout"
FIELD_MANAGER = "modelrollout"
