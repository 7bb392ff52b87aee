"""Audit of a running cluster: snapshots, policy audit, reachability with addresses, drift."""
