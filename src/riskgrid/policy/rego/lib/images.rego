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

# The first segment is a registry when it looks like a host (has "." or ":" or is localhost).
# (`else` chains: each image of each container is parsed, so only the first match runs.)
with_registry(named) := array.concat(["docker.io", "library"], named) if count(named) == 1

else := named if is_host(named[0])

else := array.concat(["docker.io"], named)

# Has "." or ":", or is "localhost". An `else` chain of plain string builtins, not a regex:
# this runs for every image and allow/deny-list entry, and a regex match costs ~4× a
# `contains` in regorus (regexes are compiled once, but matching goes through the regex crate).
is_host(s) := true if contains(s, ".")

else := true if contains(s, ":")

else := s == "localhost"

# An allow/deny-list entry is a registry or repository prefix, compared segment by segment.
parse_prefix(entry) := segs if {
	named := split(trim_suffix(entry, "/"), "/")
	segs := prefix_with_registry(named)
}

prefix_with_registry(named) := named if is_host(named[0])

else := array.concat(["docker.io"], named)

under(segments, prefix) if {
	count(prefix) <= count(segments)
	array.slice(segments, 0, count(prefix)) == prefix
}

valid_digest(d) if {
	startswith(d, "sha256:")
	count(d) == 71
}
