"""Network isolation analysis: Kubernetes NetworkPolicy + Calico tiered policy semantics.

Public API (pure computation, no I/O):

* :func:`riskgrid.netpol.analysis.connectivity` ``(objects, *, sources=None,
  cidrs_of_interest=…, add_cluster_dns=True) -> ConnectivityMatrix``
* :class:`riskgrid.netpol.matrix.ConnectivityMatrix`: ``allowed(src, dst, port=None,
  protocol="TCP")``, ``explain(…) -> Decision``, ``connections()``, ``to_dict()``
* :func:`riskgrid.netpol.assertions.check_tenant_isolation` ``(matrix, tenants,
  allowed_egress) -> list[Finding]``

See docs/netpol.md for the semantics and the decisions taken where the documentation leaves
room.
"""
