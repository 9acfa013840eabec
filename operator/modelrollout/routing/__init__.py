"""Traffic routers: how a canary weight becomes desired cluster state, behind one small interface.

Pure like the core (which sits above and picks a router per Rollout), plus `assign`, the
dependency-free user-to-version function applications and gateways call with a route table.
"""
