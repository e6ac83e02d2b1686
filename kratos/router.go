package sfkratos

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/go-kratos/kratos/v2/selector"

	"github.com/statefulroute/sfotel/otelexec"
)

// PodMetadataKey is the key, in a Kratos service instance's metadata, of the
// executor's pod ID of that instance (the podID its heartbeats write with
// SetServiceState), in decimal: register each instance with
//
//	kratos.Metadata(map[string]string{sfkratos.PodMetadataKey: "3"})
//
// An instance without it, or with a value that is not its pod ID, is never
// chosen for a user's call.
const PodMetadataKey = "sfotel.pod"

// Router sends each user's calls to the pod the executor links them to.
type Router struct {
	exec               *otelexec.Executor
	namespace, service string
	aliveWithin        time.Duration
	persistSeconds     int
}

// NewRouter returns a Router for the pods of one service: a call for a user
// goes to the pod otelexec.Executor.RouteLinkedPod gives them, with
// aliveWithin and persistSeconds as there (the link is made on first
// contact, and moved when its pod stops heartbeating). The executor records
// each decision (stateful_executor.routing.decisions and the other routing
// metrics). namespace and service are checked as the executor checks them,
// on each call.
func NewRouter(exec *otelexec.Executor, namespace, service string, aliveWithin time.Duration, persistSeconds int) (*Router, error) {
	switch {
	case exec == nil:
		return nil, errors.New("sfkratos: NewRouter: exec is nil")
	case aliveWithin <= 0:
		return nil, errors.New("sfkratos: NewRouter: aliveWithin must be positive")
	case persistSeconds != otelexec.PersistForever && persistSeconds <= 0:
		return nil, errors.New("sfkratos: NewRouter: persistSeconds must be -1 (persistent) or positive")
	}
	return &Router{exec, namespace, service, aliveWithin, persistSeconds}, nil
}

type userKey struct{}

// WithUser returns a context whose calls the Router routes to uid's pod.
func WithUser(ctx context.Context, uid string) context.Context {
	return context.WithValue(ctx, userKey{}, uid)
}

// NodeFilter is the Router as a Kratos node filter: give it to the client
// with http.WithNodeFilter or grpc.WithNodeFilter. A call whose context has
// no user (WithUser) is left to the balancer over every node. A call for a
// user goes to the one discovered node whose PodMetadataKey is the user's
// pod; when there is none (the pod is not discovered, or is down but still
// heartbeating), when no pod is live, or when Redis fails, the filter leaves
// no node and the call fails with selector.ErrNoAvailable (503
// no_available_node): another pod does not hold the user's state, so a call
// there would give a wrong answer rather than an error.
func (r *Router) NodeFilter() selector.NodeFilter {
	return func(ctx context.Context, nodes []selector.Node) []selector.Node {
		uid, ok := ctx.Value(userKey{}).(string)
		if !ok {
			return nodes
		}
		pod, _, err := r.exec.RouteLinkedPod(ctx, r.namespace, uid, r.service, r.aliveWithin, r.persistSeconds)
		if err != nil || pod < 0 {
			return nil
		}
		id := strconv.Itoa(pod)
		for _, n := range nodes {
			if n.Metadata()[PodMetadataKey] == id {
				return []selector.Node{n}
			}
		}
		return nil
	}
}
