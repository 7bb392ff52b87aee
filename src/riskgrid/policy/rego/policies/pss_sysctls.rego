# PSS baseline "Sysctls": only the namespaced, safe sysctls of the newest PSS version.
package lib.riskgrid.policies.pss_sysctls

allowed := {
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
	"net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem",
	"net.ipv4.tcp_slow_start_after_idle",
	"net.ipv4.tcp_notsent_lowat",
}

# A plain reference, not object.get (this runs for every pod): `p.sc` is always an object,
# and absent sysctls leave the loop empty either way.
violations(w, params) := {v |
	some p in w.pods
	sysctls := p.sc.sysctls
	some i
	entry := sysctls[i]
	sysctl := object.get(entry, "name", "")
	not allowed[sysctl]
	v := {"msg": "sysctl is not in the safe set", "path": array.concat(p.path, ["securityContext", "sysctls", i, "name"]), "container": "", "image": "", "value": sysctl}
}
