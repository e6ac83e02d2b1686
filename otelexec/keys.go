package otelexec

// Keys of the Redis data layout, byte for byte those of the Java
// StatefulRedisExecutor (docs/design.md, "Redis data layout"). The arguments must
// have passed validation: names cannot contain ':' or braces and uids cannot
// contain braces, which is what makes every key decode to exactly one
// (namespace, uid, service) triple.

// stateKey is the hash of a service's pod states: field pod ID → state.
func stateKey(namespace, serviceName string) string {
	return "sf:{" + namespace + ":state:" + serviceName + "}"
}

// workloadKey is the string holding a service's workload state.
func workloadKey(namespace, serviceName string) string {
	return "sf:{" + namespace + ":workload:" + serviceName + "}"
}

// linkHashKey is the hash of a user's persistent links: field service → pod ID.
func linkHashKey(namespace, uid string) string {
	return "sf:{" + namespace + ":lk:" + uid + "}"
}

// linkKey is the string holding a user's link to one service. It shares the
// hash tag of linkHashKey, so link scripts touch one cluster slot.
func linkKey(namespace, uid, serviceName string) string {
	return "sf:{" + namespace + ":lk:" + uid + "}" + serviceName
}
