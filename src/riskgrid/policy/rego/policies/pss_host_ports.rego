# PSS baseline "Host Ports": hostPort must be unset or 0 (bank rule: no exception range).
package lib.riskgrid.policies.pss_host_ports

# A plain reference to the list, not object.get (this runs for every container): `c.container`
# is always an object, and absent ports leave the loop empty either way.
violations(w, params) := {v |
	some c in w.containers
	ports := c.container.ports
	some i
	port := ports[i]
	object.get(port, "hostPort", 0) != 0
	v := {"msg": "container binds a host port", "path": array.concat(c.path, ["ports", i, "hostPort"]), "container": c.name, "image": c.image, "value": port.hostPort}
}
