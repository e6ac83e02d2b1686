package otelexec

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/redistest"
)

// BenchmarkLinkRead measures what reading the user's link hash field costs
// on top of the link key, the read every link read makes since a hash field
// written by the Java executor alone is a persistent link (docs/java.md).
// read=get is the read before that change, kept here as the baseline: one
// GET of the link key (BatchGetLinkedPod: one GET per uid, pipelined);
// read=hget+get is the executor's read now: HGET of the field and GET of the
// link key in one pipeline (per uid for the batch). Both run against the
// real Redis, on a persistent link, serially and from 50 goroutines.
// ComputeLinkedPod's existing-link check is the op=GetLinkedPod read.
// Compare the two with
//
//	go test -run '^$' -bench '^BenchmarkLinkRead$' -count 6 ./otelexec > linkread.txt
//	benchstat -col /read linkread.txt
//
// or SUITES=link-read bash scripts/bench.sh, which interleaves the rounds.
func BenchmarkLinkRead(b *testing.B) {
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(b), PoolSize: 64})
	b.Cleanup(func() { _ = rdb.Close() })
	e, err := New(rdb)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	ns := redistest.Namespace(b)
	ctx := context.Background()
	uids := make([]string, routingFanOut)
	for i := range uids {
		uids[i] = "user-" + strconv.Itoa(i)
		if _, err := e.SetLinkedPod(ctx, ns, uids[i], "game", i%4, PersistForever); err != nil {
			b.Fatal(err)
		}
	}
	reads := map[string]map[string]func(context.Context) error{
		"GetLinkedPod": {
			"get": func(ctx context.Context) error {
				_, err := getLinkStringOnly(ctx, e, ns, uids[0], "game")
				return err
			},
			"hget+get": func(ctx context.Context) error {
				_, err := e.getLink(ctx, ns, uids[0], "game")
				return err
			},
		},
		"BatchGetLinkedPod": {
			"get": func(ctx context.Context) error {
				return batchStringOnly(ctx, e, ns, uids, "game")
			},
			"hget+get": func(ctx context.Context) error {
				_, err := e.BatchGetLinkedPod(ctx, ns, uids, "game")
				return err
			},
		},
	}
	for _, op := range []string{"GetLinkedPod", "BatchGetLinkedPod"} {
		for _, n := range benchGoroutines {
			for _, read := range []string{"get", "hget+get"} {
				b.Run("op="+op+"/goroutines="+strconv.Itoa(n)+"/read="+read, func(b *testing.B) {
					runBenchmark(b, n, reads[op][read])
				})
			}
		}
	}
}

// getLinkStringOnly is the link read as it was before the hash field
// counted: one GET of the link key.
func getLinkStringOnly(ctx context.Context, e *Executor, namespace, uid, serviceName string) (int, error) {
	v, err := e.rdb.Get(ctx, linkKey(namespace, uid, serviceName)).Result()
	if errors.Is(err, redis.Nil) {
		return -1, nil
	}
	if err != nil {
		return -1, err
	}
	pod, err := parsePodID(v)
	if err != nil {
		return -1, nil
	}
	return pod, nil
}

// batchStringOnly is BatchGetLinkedPod's read as it was: pipelined GETs.
func batchStringOnly(ctx context.Context, e *Executor, namespace string, uids []string, serviceName string) error {
	pods := make(map[int][]string)
	err := pipelinedGets(ctx, e, len(uids), func(i int) string { return linkKey(namespace, uids[i], serviceName) },
		func(i int, v string) error {
			if pod, err := parsePodID(v); err == nil {
				pods[pod] = append(pods[pod], uids[i])
			}
			return nil
		})
	if err == nil && len(pods) == 0 {
		err = errors.New("no link read")
	}
	return err
}

// pipelinedGets GETs key(i) for every i below n, batchChunk keys to a
// pipeline, and calls found for every key that exists, in order. It checks
// ctx before each chunk.
func pipelinedGets(ctx context.Context, e *Executor, n int, key func(i int) string, found func(i int, v string) error) error {
	cmds := make([]*redis.StringCmd, min(n, batchChunk))
	return e.pipelined(ctx, n,
		func(p redis.Pipeliner, i int) {
			cmds[i%batchChunk] = queued(ctx, p, redis.NewStringCmd(ctx, "get", key(i)))
		},
		func(i int) error {
			v, err := cmds[i%batchChunk].Result()
			if errors.Is(err, redis.Nil) {
				return nil
			}
			if err != nil {
				return err
			}
			return found(i, v)
		},
		func() { clear(cmds) })
}
