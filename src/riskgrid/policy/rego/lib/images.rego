# Image reference parsing: [registry[:port]/]path[:tag][@digest] → registry, path segments,
# tag and digest, with Docker Hub's implicit "docker.io" and "library/" filled in.
package lib.riskgrid.images

# This runs once for every container (normalisation), so the common shape of a bank image —
# a registry host with ".", a tag and a digest — is the first definition, read with plain
# references (a reference costs a quarter of a builtin in regorus, a helper call more than
# one). Any other shape fails one of its tests and takes the general definition below; both
# give the same reference for every input (the first is the general one with its `else`
# branches and `array.slice` defaults resolved for this shape).
parse(image) := ref if {
	at := split(image, "@")
	digest := at[1]
	parts := split(at[0], "/")
	n := count(parts) - 1
	n > 0
	contains(parts[0], ".")
	tag_split := split(parts[n], ":")
	tag := tag_split[1]
	segs := array.concat(array.slice(parts, 0, n), [tag_split[0]])
	ref := {"segments": segs, "tag": tag, "digest": digest}
} else := ref if {
	at := split(image, "@")
	name_tag := at[0]
	digest := concat("", array.slice(at, 1, 2)) # at[1], or "" without "@" (a builtin, not a call)
	parts := split(name_tag, "/")
	last := parts[count(parts) - 1]
	tag_split := split(last, ":")
	tag := concat("", array.slice(tag_split, 1, 2))
	repo_last := tag_split[0]
	named := array.concat(array.slice(parts, 0, count(parts) - 1), [repo_last])
	segs := with_registry(named)
	ref := {"segments": segs, "tag": tag, "digest": digest}
}

# The first segment is a registry when it looks like a host: it has "." or ":", or is
# "localhost". (`else` chains of plain string builtins, the host test written into each: a
# helper call or a regex match costs several times a `contains` in regorus.)
with_registry(named) := array.concat(["docker.io", "library"], named) if count(named) == 1

else := named if contains(named[0], ".")

else := named if contains(named[0], ":")

else := named if named[0] == "localhost"

else := array.concat(["docker.io"], named)

# An allow/deny-list entry is a registry or repository prefix, compared segment by segment.
# RG-IMG-001/002 parse their list for every workload: one `else` chain, the host test written
# into each definition (no second call), the commonest entry — a registry host with "." —
# first; the split is repeated only by the rarer branches.
parse_prefix(entry) := named if {
	named := split(trim_suffix(entry, "/"), "/")
	contains(named[0], ".")
} else := named if {
	named := split(trim_suffix(entry, "/"), "/")
	contains(named[0], ":")
} else := named if {
	named := split(trim_suffix(entry, "/"), "/")
	named[0] == "localhost"
} else := array.concat(["docker.io"], split(trim_suffix(entry, "/"), "/"))

under(segments, prefix) if {
	count(prefix) <= count(segments)
	array.slice(segments, 0, count(prefix)) == prefix
}
