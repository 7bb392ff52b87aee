# Image reference parsing: [registry[:port]/]path[:tag][@digest] → registry, path segments,
# tag and digest, with Docker Hub's implicit "docker.io" and "library/" filled in.
package lib.riskgrid.images

# This runs once for every container (normalisation), so the shapes of a pinned bank image —
# a registry host with ".", a digest, and a tag or none — come first, read with plain
# references and one split per part (a reference costs a quarter of a builtin in regorus, a
# helper call more than one): 5 builtins instead of the general form's 9 and a call. Any other
# shape fails one of their first tests (an image without digest: the second statement of each)
# and takes the general definition, the last one. All three give the same reference for every
# input: the first two are the general one with its `else` branches and `array.slice`
# defaults resolved for their shape.
#
# reg.example/path/name:tag@digest — exactly one ":" before the "@", and no "/" after it, so it
# is the tag's (not a registry port's), and the name is everything before it.
parse(image) := ref if {
	at := split(image, "@")
	digest := at[1]
	name_tag := split(at[0], ":")
	tag := name_tag[1]
	not name_tag[2]
	not contains(tag, "/")
	segs := split(name_tag[0], "/")
	segs[1] # two segments or more: the first is a registry when it looks like a host
	contains(segs[0], ".")
	ref := {"segments": segs, "tag": tag, "digest": digest}
} else := ref if {
	# reg.example/path/name@digest — no ":" before the "@": no tag, no port.
	at := split(image, "@")
	digest := at[1]
	not contains(at[0], ":")
	segs := split(at[0], "/")
	segs[1]
	contains(segs[0], ".")
	ref := {"segments": segs, "tag": "", "digest": digest}
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
