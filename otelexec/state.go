package otelexec

import (
	"context"
	"errors"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/contract"
)

// SetServiceState records the state of one pod of a service, as given.
// ComputeLinkedPod reads states written with FormatPodState (or
// "<load>-<Unix milliseconds>"); a Java executor's compute script fails on
// any other (docs/java.md).
func (e *Executor) SetServiceState(ctx context.Context, namespace, serviceName string, podID int, state string) (err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpSetServiceState, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(validateServiceArgs(namespace, serviceName), validatePodID("podID", podID), validateState("state", state)); err != nil {
		return err
	}
	err = e.send.write(ctx, redis.NewIntCmd(ctx, "hset", stateKey(namespace, serviceName), strconv.Itoa(podID), state))
	e.states.invalidate(namespace, serviceName) // even on error: the write may have landed
	return err
}

// GetServiceState returns the states of a service's pods by pod ID; an empty
// map when none is recorded. A field whose name is not a pod ID (another
// writer's data) is left out, counted and logged (docs/telemetry.md,
// stateful_executor.stored_values.skipped); the states themselves are
// returned as stored.
func (e *Executor) GetServiceState(ctx context.Context, namespace, serviceName string) (states map[int]string, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpGetServiceState, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(validateServiceArgs(namespace, serviceName)); err != nil {
		return nil, err
	}
	s, err := e.states.get(ctx, namespace, serviceName)
	skipped := 0
	switch {
	case err != nil:
		return nil, err
	case s != nil:
		states, skipped = s.states(), s.skipped
	default: // no cache, or it turned the service away
		raw, err := readStates(ctx, e.send, namespace, serviceName)
		if err != nil {
			return nil, err
		}
		states, skipped = parseStateHash(raw)
	}
	e.skipped(ctx, contract.OpGetServiceState, namespace, serviceName, contract.SkipStateField, skipped)
	return states, nil
}

// readStates is the HGETALL of a service's pod state hash, as Redis returns
// it: what the state cache reads, and GetServiceState without it.
func readStates(ctx context.Context, send *sender, namespace, serviceName string) (map[string]string, error) {
	cmd := redis.NewMapStringStringCmd(ctx, "hgetall", stateKey(namespace, serviceName))
	if err := send.do(ctx, cmd); err != nil {
		return nil, err
	}
	return cmd.Val(), nil
}

// parseStateHash turns the raw pod state hash into pod ID → state. A field
// that is not a stored pod ID (parsePodID) is left out and counted, so one
// foreign field cannot stop routing for the whole service, and two
// spellings of one pod ("1" and "01") cannot both claim it.
func parseStateHash(raw map[string]string) (states map[int]string, skipped int) {
	states = make(map[int]string, len(raw))
	for field, state := range raw {
		if pod, err := parsePodID(field); err == nil {
			states[pod] = state
		} else {
			skipped++
		}
	}
	return states, skipped
}

// SetWorkloadState records the workload state of a service.
func (e *Executor) SetWorkloadState(ctx context.Context, namespace, serviceName, state string) (err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpSetWorkloadState, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(validateServiceArgs(namespace, serviceName), validateState("state", state)); err != nil {
		return err
	}
	return e.send.write(ctx, redis.NewStatusCmd(ctx, "set", workloadKey(namespace, serviceName), state))
}

// GetWorkloadState returns the workload state of a service, "" when unset.
func (e *Executor) GetWorkloadState(ctx context.Context, namespace, serviceName string) (state string, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpGetWorkloadState, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(validateServiceArgs(namespace, serviceName)); err != nil {
		return "", err
	}
	cmd := redis.NewStringCmd(ctx, "get", workloadKey(namespace, serviceName))
	if err = e.send.do(ctx, cmd); err == nil {
		state = cmd.Val()
	}
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return state, err
}

// GetWorkloadStateBatch returns the workload states of several services:
// pipelines of GETs (batchChunk at a time), which work on Redis Cluster
// because go-redis splits them per node (an MGET across hash tags would fail
// with CROSSSLOT). Services without a state are left out of the map. A nil
// or empty slice gives an empty map without calling Redis.
func (e *Executor) GetWorkloadStateBatch(ctx context.Context, namespace string, serviceNames []string) (states map[string]string, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpGetWorkloadStateBatch, namespace, "")
	defer op.end(&err)
	if err = e.check(validateName("namespace", namespace)); err != nil {
		return nil, err
	}
	if err = validateEach(ctx, "serviceNames", serviceNames, validateName); err != nil {
		return nil, err
	}
	states = make(map[string]string, min(len(serviceNames), batchChunk))
	cmds := make([]*redis.StringCmd, min(len(serviceNames), batchChunk))
	err = e.pipelined(ctx, len(serviceNames),
		func(p redis.Pipeliner, i int) {
			cmds[i%batchChunk] = queued(ctx, p, redis.NewStringCmd(ctx, "get", workloadKey(namespace, serviceNames[i])))
		},
		func(i int) error {
			v, err := cmds[i%batchChunk].Result()
			if err == nil {
				states[serviceNames[i]] = v
			}
			if errors.Is(err, redis.Nil) {
				return nil
			}
			return err
		},
		func() { clear(cmds) })
	if err != nil {
		return nil, err
	}
	return states, nil
}

// batchChunk bounds the commands of one pipeline of a batch operation, so
// that the memory a batch takes beyond its result is one chunk's, and a
// canceled batch stops within one chunk's round trip.
const batchChunk = 1024

// validateEach validates every element of a batch input, checking ctx
// every chunk so that a huge batch with a canceled context returns at once.
func validateEach(ctx context.Context, field string, items []string, validate func(field, s string) error) error {
	for i, s := range items {
		if i%batchChunk == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := validate(indexed(field, i), s); err != nil {
			return err
		}
	}
	return nil
}

// pipelined runs a batch read in pipelines of batchChunk items, checking
// ctx before each: queue(p, i) adds item i's commands (queued), read(i)
// takes their replies once the pipeline returned, and done lets the
// chunk's commands go before the next is built.
func (e *Executor) pipelined(ctx context.Context, n int, queue func(p redis.Pipeliner, i int), read func(i int) error, done func()) error {
	for start := 0; start < n; start += batchChunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(start+batchChunk, n)
		err := e.send.sendPipeline(ctx, func() error {
			_, err := e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := start; i < end; i++ {
					queue(p, i)
				}
				return nil
			})
			return err
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		for i := start; i < end; i++ {
			if err := read(i); err != nil {
				return err
			}
		}
		done()
	}
	return nil
}
