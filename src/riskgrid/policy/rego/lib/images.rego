# Image reference parsing: [registry[:port]/]path[:tag][@digest] → registry, path segments,
# tag and digest, with Docker Hub's implicit "docker.io" and "library/" filled in.
package lib.riskgrid.images

parse(image) := ref if {
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
# "localhost". (`else` chains of plain string builtins, the host test written into each: this
# runs for every image and allow/deny-list entry, and a helper call or a regex match costs
# several times a `contains` in regorus.)
with_registry(named) := array.concat(["docker.io", "library"], named) if count(named) == 1

else := named if contains(named[0], ".")

else := named if contains(named[0], ":")

else := named if named[0] == "localhost"

else := array.concat(["docker.io"], named)

# An allow/deny-list entry is a registry or repository prefix, compared segment by segment.
parse_prefix(entry) := segs if {
	named := split(trim_suffix(entry, "/"), "/")
	segs := prefix_with_registry(named)
}

prefix_with_registry(named) := named if contains(named[0], ".")

else := named if contains(named[0], ":")

else := named if named[0] == "localhost"

else := array.concat(["docker.io"], named)

under(segments, prefix) if {
	count(prefix) <= count(segments)
	array.slice(segments, 0, count(prefix)) == prefix
}

valid_digest(d) if {
	startswith(d, "sha256:")
	count(d) == 71
}
