package otelexec

import (
	"github.com/statefulroute/sfotel/internal/contract"

	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// SetServiceState records the state of one pod of a service (HSET on the
// service's pod state hash). ComputeLinkedPod reads states written with
// FormatPodState.
func (e *Executor) SetServiceState(ctx context.Context, namespace, serviceName string, podID int, state string) (err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpSetServiceState, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(); err != nil {
		return err
	}
	if err = validateServiceArgs(namespace, serviceName); err != nil {
		return err
	}
	if err = validatePodID("podID", podID); err != nil {
		return err
	}
	if err = validateState("state", state); err != nil {
		return err
	}
	err = e.rdb.HSet(ctx, stateKey(namespace, serviceName), strconv.Itoa(podID), state).Err()
	e.states.invalidate(namespace, serviceName) // even on error: the write may have landed
	return err
}

// GetServiceState returns the states of a service's pods by pod ID; an empty
// map when none is recorded.
func (e *Executor) GetServiceState(ctx context.Context, namespace, serviceName string) (states map[int]string, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpGetServiceState, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(); err != nil {
		return nil, err
	}
	if err = validateServiceArgs(namespace, serviceName); err != nil {
		return nil, err
	}
	return e.podStatesCopy(ctx, namespace, serviceName)
}

// podStates reads a service's pod state hash. Every pod state read goes
// through here, so a pod state cache (WithStateCache) has one place to sit.
func (e *Executor) podStates(ctx context.Context, namespace, serviceName string) (map[int]string, error) {
	raw, err := e.rdb.HGetAll(ctx, stateKey(namespace, serviceName)).Result()
	if err != nil {
		return nil, err
	}
	return parseStateHash(raw)
}

// parseStateHash turns the raw pod state hash into pod ID → state.
func parseStateHash(raw map[string]string) (map[int]string, error) {
	states := make(map[int]string, len(raw))
	for field, state := range raw {
		pod, err := parsePodID(field)
		if err != nil {
			return nil, fmt.Errorf("pod state field: %w", err)
		}
		states[pod] = state
	}
	return states, nil
}

// SetWorkloadState records the workload state of a service.
func (e *Executor) SetWorkloadState(ctx context.Context, namespace, serviceName, state string) (err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpSetWorkloadState, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(); err != nil {
		return err
	}
	if err = validateServiceArgs(namespace, serviceName); err != nil {
		return err
	}
	if err = validateState("state", state); err != nil {
		return err
	}
	return e.rdb.Set(ctx, workloadKey(namespace, serviceName), state, 0).Err()
}

// GetWorkloadState returns the workload state of a service, "" when unset.
func (e *Executor) GetWorkloadState(ctx context.Context, namespace, serviceName string) (state string, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpGetWorkloadState, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(); err != nil {
		return "", err
	}
	if err = validateServiceArgs(namespace, serviceName); err != nil {
		return "", err
	}
	state, err = e.rdb.Get(ctx, workloadKey(namespace, serviceName)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return state, err
}

// GetWorkloadStateBatch returns the workload states of several services in
// one round trip: a pipeline of GETs, which works on Redis Cluster because
// go-redis splits it per node (an MGET across hash tags would fail with
// CROSSSLOT). Services without a state are left out of the map. A nil or
// empty slice gives an empty map without calling Redis.
func (e *Executor) GetWorkloadStateBatch(ctx context.Context, namespace string, serviceNames []string) (states map[string]string, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpGetWorkloadStateBatch, namespace, "")
	defer op.end(&err)
	if err = e.check(); err != nil {
		return nil, err
	}
	if err = validateName("namespace", namespace); err != nil {
		return nil, err
	}
	for i, s := range serviceNames {
		if err = validateName(indexed("serviceNames", i), s); err != nil {
			return nil, err
		}
	}
	states = make(map[string]string, len(serviceNames))
	if len(serviceNames) == 0 {
		return states, nil
	}
	names := dedupe(serviceNames)
	cmds := make([]*redis.StringCmd, len(names))
	_, err = e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, s := range names {
			cmds[i] = p.Get(ctx, workloadKey(namespace, s))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	for i, cmd := range cmds {
		v, err := cmd.Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, err
		default:
			states[names[i]] = v
		}
	}
	return states, nil
}

func validateServiceArgs(namespace, serviceName string) error {
	if err := validateName("namespace", namespace); err != nil {
		return err
	}
	return validateName("serviceName", serviceName)
}

// dedupe returns s without repeated elements, in first-seen order; s itself
// when it has none, which is the common case.
func dedupe(s []string) []string {
	seen := make(map[string]struct{}, len(s))
	var out []string
	for i, v := range s {
		if _, dup := seen[v]; dup {
			if out == nil {
				out = append(make([]string, 0, len(s)), s[:i]...)
			}
			continue
		}
		seen[v] = struct{}{}
		if out != nil {
			out = append(out, v)
		}
	}
	if out == nil {
		return s
	}
	return out
}
