// Package javatest is a test double of the Java StatefulRedisExecutor, for
// tests of a Java and a Go executor sharing one Redis. It is written from
// what is known of the Java executor's Lua scripts (docs/java.md), not from
// its code:
//
//   - its compute-if-absent script takes the user's link hash and the
//     service's pod state hash (two hash tags), returns the hash field for
//     the service if there is one, and otherwise picks the live pod (heartbeat
//     >= the oldest alive, split at the first '-') with the lowest load, ties
//     in Lua pairs order, and HSETs only the hash field: no link key. It
//     fails the whole call on a state without '-', a negative or non-numeric
//     load;
//   - its other link scripts are sfotel's as they were before sfotel read
//     the hash field (the link key alone, Lua tonumber for pod IDs), except
//     that removeLinkedPod and removeLinkedPodWithId delete the link at once
//     whatever persistSeconds says (they delete and then expire the deleted
//     key);
//   - it validates no input; removeLinkedPodWithId takes persistSeconds
//     before the pod ID.
//
// The key layout is the one both executors share. Scripts run by EVAL.
package javatest

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/*.lua
var files embed.FS

func script(name string) *redis.Script {
	src, err := files.ReadFile("scripts/" + name)
	if err != nil {
		panic("javatest: missing script " + name)
	}
	return redis.NewScript(string(src))
}

var (
	computeScript      = script("compute_if_absent.lua")
	setScript          = script("set_linked_pod.lua")
	setIfAbsentScript  = script("set_linked_pod_if_absent.lua")
	trySetScript       = script("try_set_linked_pod.lua")
	getIfPersistScript = script("get_linked_pod_if_persist.lua")
	removeScript       = script("remove_linked_pod.lua")
	removeWithIDScript = script("remove_linked_pod_with_id.lua")
)

// Executor is the Java executor's behaviour over a go-redis client.
type Executor struct {
	rdb redis.UniversalClient
}

// New returns the double over rdb.
func New(rdb redis.UniversalClient) *Executor { return &Executor{rdb: rdb} }

// The shared key layout.
func stateKey(ns, svc string) string    { return "sf:{" + ns + ":state:" + svc + "}" }
func linkHashKey(ns, uid string) string { return "sf:{" + ns + ":lk:" + uid + "}" }
func linkKey(ns, uid, svc string) string {
	return linkHashKey(ns, uid) + svc
}

func (j *Executor) run(ctx context.Context, s *redis.Script, keys []string, args ...any) (any, error) {
	return s.Run(ctx, j.rdb, keys, args...).Result()
}

// pod turns a script's pod reply into an int; a nil reply (tonumber of a
// value that is not a number) is ErrNotNumber.
func pod(v any, err error) (int, error) {
	if errors.Is(err, redis.Nil) {
		return -1, ErrNotNumber
	}
	if err != nil {
		return -1, err
	}
	n, ok := v.(int64)
	if !ok {
		return -1, fmt.Errorf("javatest: reply %T, want an integer", v)
	}
	return int(n), nil
}

// ErrNotNumber is the double's answer where the Java scripts' tonumber
// returns nil: a stored value that is not a number.
var ErrNotNumber = errors.New("javatest: stored value is not a number")

// ComputeLinkedPod is the Java compute-if-absent script. oldestAlive is
// ARGV[2], the oldest heartbeat still alive, in the unit the service's pods
// write (seconds or milliseconds). It returns -1 when no pod is alive.
func (j *Executor) ComputeLinkedPod(ctx context.Context, ns, uid, svc string, oldestAlive int64) (int, error) {
	return pod(j.run(ctx, computeScript, []string{linkHashKey(ns, uid), stateKey(ns, svc)}, svc, strconv.FormatInt(oldestAlive, 10)))
}

// SetLinkedPod links the user, whatever was there, and returns the previous
// pod of the link key, or -1.
func (j *Executor) SetLinkedPod(ctx context.Context, ns, uid, svc string, podID, persistSeconds int) (int, error) {
	return pod(j.run(ctx, setScript, []string{linkHashKey(ns, uid), linkKey(ns, uid, svc)}, svc, strconv.Itoa(podID), strconv.Itoa(persistSeconds)))
}

// SetLinkedPodIfAbsent links the user unless a link key exists.
func (j *Executor) SetLinkedPodIfAbsent(ctx context.Context, ns, uid, svc string, podID, persistSeconds int) (int, error) {
	return pod(j.run(ctx, setIfAbsentScript, []string{linkHashKey(ns, uid), linkKey(ns, uid, svc)}, svc, strconv.Itoa(podID), strconv.Itoa(persistSeconds)))
}

// TrySetLinkedPod links the user unless a link key without TTL holds
// another pod.
func (j *Executor) TrySetLinkedPod(ctx context.Context, ns, uid, svc string, podID, persistSeconds int) (bool, int, error) {
	v, err := j.run(ctx, trySetScript, []string{linkHashKey(ns, uid), linkKey(ns, uid, svc)}, svc, strconv.Itoa(podID), strconv.Itoa(persistSeconds))
	if err != nil {
		return false, -1, err
	}
	pair, ok := v.([]any)
	if !ok || len(pair) < 1 {
		return false, -1, fmt.Errorf("javatest: reply %#v, want {ok, pod}", v)
	}
	if len(pair) < 2 { // tonumber returned nil: Lua drops a trailing nil
		return false, -1, ErrNotNumber
	}
	set, _ := pair[0].(int64)
	p, err := pod(pair[1], nil)
	return set == 1, p, err
}

// GetLinkedPod reads the link key: the hash field is not read.
func (j *Executor) GetLinkedPod(ctx context.Context, ns, uid, svc string) (int, error) {
	v, err := j.rdb.Get(ctx, linkKey(ns, uid, svc)).Result()
	if errors.Is(err, redis.Nil) {
		return -1, nil
	}
	if err != nil {
		return -1, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1, ErrNotNumber
	}
	return n, nil
}

// GetLinkedPodIfPersist reads the link key if it has no TTL.
func (j *Executor) GetLinkedPodIfPersist(ctx context.Context, ns, uid, svc string) (int, error) {
	return pod(j.run(ctx, getIfPersistScript, []string{linkKey(ns, uid, svc)}))
}

// BatchGetLinkedPod reads the link key of each uid; a uid given twice is
// listed twice.
func (j *Executor) BatchGetLinkedPod(ctx context.Context, ns string, uids []string, svc string) (map[int][]string, error) {
	cmds := make([]*redis.StringCmd, len(uids))
	_, err := j.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, uid := range uids {
			cmds[i] = p.Get(ctx, linkKey(ns, uid, svc))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := map[int][]string{}
	for i, cmd := range cmds {
		v, err := cmd.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, ErrNotNumber
		}
		out[n] = append(out[n], uids[i])
	}
	return out, nil
}

// RemoveLinkedPod removes the link at once (persistSeconds has no effect,
// as in Java) and reports whether the link key existed.
func (j *Executor) RemoveLinkedPod(ctx context.Context, ns, uid, svc string, persistSeconds int) (bool, error) {
	n, err := pod(j.run(ctx, removeScript, []string{linkHashKey(ns, uid), linkKey(ns, uid, svc)}, svc, strconv.Itoa(persistSeconds)))
	return n == 1, err
}

// RemoveLinkedPodWithID removes the link at once when the link key holds
// podID. As in Java, persistSeconds comes before the pod ID.
func (j *Executor) RemoveLinkedPodWithID(ctx context.Context, ns, uid, svc string, persistSeconds, podID int) (bool, error) {
	n, err := pod(j.run(ctx, removeWithIDScript, []string{linkHashKey(ns, uid), linkKey(ns, uid, svc)}, svc, strconv.Itoa(persistSeconds), strconv.Itoa(podID)))
	return n == 1, err
}

// GetLinkService reads the user's link hash, service → pod.
func (j *Executor) GetLinkService(ctx context.Context, ns, uid string) (map[string]int, error) {
	raw, err := j.rdb.HGetAll(ctx, linkHashKey(ns, uid)).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(raw))
	for svc, v := range raw {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, ErrNotNumber
		}
		out[svc] = n
	}
	return out, nil
}

// SetServiceState records a pod's state as given.
func (j *Executor) SetServiceState(ctx context.Context, ns, svc string, podID int, state string) error {
	return j.rdb.HSet(ctx, stateKey(ns, svc), strconv.Itoa(podID), state).Err()
}
