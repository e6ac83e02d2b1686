package otelexec

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/flight"
	"github.com/statefulroute/sfotel/internal/redisclient"
)

//go:embed scripts/*.lua
var scriptFiles embed.FS

// preludeFile is prepended to every script: the Lua definitions all scripts
// share (the one definition of a stored pod ID). It is not a script itself.
const preludeFile = "prelude.lua"

// script is one embedded Lua script. Its SHA1 is computed locally, so EVALSHA
// needs no round trip to learn it.
type script struct {
	name string // file name, for logs
	src  string
	sha  string
	// write: the script changes links and its result depends on what was
	// there, so running it twice returns a wrong result. go-redis must
	// never resend it (see runOnce).
	write bool

	// loaded counts the loads this process has done; 0 means the script
	// was never loaded by this executor, and its first use sends the source
	// (EVAL) instead of the SHA. A caller remembers the count before
	// EVALSHA; on NOSCRIPT it reloads only when nobody reloaded since.
	loaded atomic.Uint64
	reload flight.Group[struct{}]
}

// mustScript reads an embedded script and prepends the prelude; the SHA1 is
// that of the combined source, which is what Redis runs and caches.
func mustScript(name string, write bool) *script {
	src := scriptSource(name)
	sha := redis.NewScript(src).Hash()
	redisclient.NameScript(sha, strings.TrimSuffix(name, ".lua")) // db.stored_procedure.name of its EVALSHA spans
	return &script{name: name, src: src, sha: sha, write: write}
}

// scriptSource is the prelude followed by the named script.
func scriptSource(name string) string {
	return mustEmbedded(preludeFile) + mustEmbedded(name)
}

func mustEmbedded(name string) string {
	src, err := scriptFiles.ReadFile("scripts/" + name)
	if err != nil {
		panic("otelexec: missing embedded script " + name) // a build defect, not a runtime fault
	}
	return string(src)
}

// scripts are the executor's Lua scripts, parsed from the embedded files once.
type scripts struct {
	setLinked, setIfAbsent, trySet, getIfPersist, remove, removeWithID *script
}

func loadScripts() scripts {
	return scripts{
		setLinked:    mustScript("set_linked_pod.lua", true),
		setIfAbsent:  mustScript("set_linked_pod_if_absent.lua", true),
		trySet:       mustScript("try_set_linked_pod.lua", true),
		getIfPersist: mustScript("get_linked_pod_if_persist.lua", false),
		remove:       mustScript("remove_linked_pod.lua", true),
		removeWithID: mustScript("remove_linked_pod_with_id.lua", true),
	}
}

func (s scripts) all() []*script {
	return []*script{s.setLinked, s.setIfAbsent, s.trySet, s.getIfPersist, s.remove, s.removeWithID}
}

// ScriptStats counts the executor's EVALSHA outcomes since New.
type ScriptStats struct {
	Hits    uint64 // EVALSHA replies other than NOSCRIPT
	Misses  uint64 // NOSCRIPT replies
	Reloads uint64 // SCRIPT LOADs, or EVALs of a script flushed twice, after a NOSCRIPT (not LoadScripts or a first use)
}

// HitRatio is Hits / (Hits + Misses), or 1 before the first EVALSHA.
func (s ScriptStats) HitRatio() float64 {
	if s.Hits+s.Misses == 0 {
		return 1
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

// scriptCounters count script outcomes: one executor's, for ScriptStats,
// and, through shared, those of every executor on its MeterProvider, for
// the metrics.
type scriptCounters struct {
	hits, misses, reloads atomic.Uint64
	shared                *scriptCounters // nil without metrics
}

func (c *scriptCounters) snapshot() ScriptStats {
	return ScriptStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Reloads: c.reloads.Load()}
}

func (c *scriptCounters) hit() {
	c.hits.Add(1)
	if c.shared != nil {
		c.shared.hits.Add(1)
	}
}

func (c *scriptCounters) miss() {
	c.misses.Add(1)
	if c.shared != nil {
		c.shared.misses.Add(1)
	}
}

func (c *scriptCounters) reload() {
	c.reloads.Add(1)
	if c.shared != nil {
		c.shared.reloads.Add(1)
	}
}

// preload loads every script and checks that Redis agrees on the SHA.
func preload(ctx context.Context, rdb redis.UniversalClient, all []*script) error {
	for _, s := range all {
		sha, err := scriptLoad(ctx, rdb, s.src)
		if err != nil {
			return fmt.Errorf("otelexec: load script %s: %w", s.name, err)
		}
		if sha != s.sha {
			return fmt.Errorf("otelexec: load script %s: Redis answered SHA %s, expected %s", s.name, sha, s.sha)
		}
		s.loaded.Add(1)
	}
	return nil
}

// evalSha runs s by EVALSHA. On NOSCRIPT (the server lost its script cache,
// for example after SCRIPT FLUSH, a restart or a failover) it loads the script
// once and retries once, and should the script be gone again by then, runs it
// by EVAL. Every EVALSHA reply counts as a hit or a miss. A script this
// executor never loaded runs by EVAL, which caches it on the server.
func (e *Executor) evalSha(ctx context.Context, s *script, keys []string, args ...any) (any, error) {
	generation := s.loaded.Load()
	if generation == 0 {
		v, err := e.run(ctx, s, true, keys, args)
		if err == nil || isServerError(err) {
			s.loaded.CompareAndSwap(0, 1)
		}
		return v, err
	}
	v, err := e.run(ctx, s, false, keys, args)
	if !isNoScript(err) {
		e.countReply(err)
		return v, err
	}
	e.scriptStats.miss()
	if err := e.reload(ctx, s, generation); err != nil {
		return nil, err
	}
	v, err = e.run(ctx, s, false, keys, args)
	if !isNoScript(err) {
		e.countReply(err)
		return v, err
	}
	// Flushed again between the reload and the retry. EVAL carries the
	// source, so it cannot answer NOSCRIPT, and it caches the script again:
	// it counts as the reload of this miss.
	e.scriptStats.miss()
	e.scriptStats.reload()
	return e.run(ctx, s, true, keys, args)
}

// run sends one EVALSHA of s, or one EVAL (the source) when bySource. A
// read may be retried by go-redis; a write is sent at most once (runOnce).
func (e *Executor) run(ctx context.Context, s *script, bySource bool, keys []string, args []any) (any, error) {
	cmdArgs := make([]any, 0, 3+len(keys)+len(args))
	if bySource {
		cmdArgs = append(cmdArgs, "eval", s.src, len(keys))
	} else {
		cmdArgs = append(cmdArgs, "evalsha", s.sha, len(keys))
	}
	for _, k := range keys {
		cmdArgs = append(cmdArgs, k)
	}
	cmdArgs = append(cmdArgs, args...)
	cmd := redis.NewCmd(ctx, cmdArgs...)
	if !s.write {
		if err := e.send.do(ctx, cmd); err != nil {
			return nil, err
		}
		return cmd.Result()
	}
	return runOnce(ctx, e.send, cmd)
}

// noRetryCmd is a command go-redis must not send twice. go-redis retries a
// command whose connection broke (MaxRetries, 3 by default) without knowing
// whether Redis ran it; for a link script that already ran, the second run
// sees the first run's link and returns a wrong result with no error. A
// command whose NoRetry reports true is resent only when go-redis knows it
// never reached the wire.
type noRetryCmd struct{ *redis.Cmd }

func (noRetryCmd) NoRetry() bool { return true }

// runOnce sends a write at most once and reports a lost reply as
// ErrOutcomeUnknown: when the connection broke or the deadline passed after
// the command may have reached Redis, nobody knows whether it ran. A write
// Redis refused without running it (TRYAGAIN during a slot migration,
// CLUSTERDOWN, LOADING, MASTERDOWN, BUSY) is sent again, as go-redis would
// for any command, up to the client's retry budget.
func runOnce(ctx context.Context, s *sender, cmd *redis.Cmd) (any, error) {
	retries := retryBudget(s.rdb)
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err // never sent
		}
		err := s.do(ctx, noRetryCmd{cmd})
		if err == nil || errors.Is(err, redis.Nil) {
			return cmd.Result()
		}
		if refusedUnrun(err) && attempt < retries {
			if sleep(ctx, retryBackoff(attempt)) != nil {
				return nil, err
			}
			continue
		}
		if !maybeSent(err) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
	}
}

// retryBudget is how often go-redis itself would resend a command the
// server refused: MaxRedirects on a cluster, MaxRetries elsewhere.
func retryBudget(rdb redis.UniversalClient) int {
	n := 0
	switch c := rdb.(type) {
	case *redis.Client:
		n = c.Options().MaxRetries
	case *redis.ClusterClient:
		n = c.Options().MaxRedirects
	case *redis.Ring:
		n = c.Options().MaxRetries
	}
	return max(n, 0)
}

// refusedUnrun reports whether err is a reply by which Redis refused a
// command without running it.
func refusedUnrun(err error) bool {
	for _, prefix := range []string{"TRYAGAIN", "CLUSTERDOWN", "LOADING", "MASTERDOWN", "BUSY"} {
		if redis.HasErrorPrefix(err, prefix) {
			return true
		}
	}
	return false
}

// retryBackoff grows from 8 ms to 512 ms, as go-redis's does.
func retryBackoff(attempt int) time.Duration {
	return min(8*time.Millisecond<<min(attempt, 6), 512*time.Millisecond)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maybeSent reports whether a command that failed with err may have reached
// Redis. A reply from the server (an error reply included) is an outcome;
// no free connection, a closed client or a failed dial mean nothing was
// sent. Anything else (a broken connection, a read timeout, the context's
// deadline) may have come after the command was written.
func maybeSent(err error) bool {
	var opErr *net.OpError
	switch {
	case isServerError(err),
		errors.Is(err, redis.ErrPoolTimeout),
		errors.Is(err, redis.ErrClosed),
		errors.As(err, &opErr) && opErr.Op == "dial":
		return false
	}
	return true
}

// countReply counts a reply as a script cache hit; an error that is not a
// server reply (a timeout, a broken connection) says nothing about the cache.
func (e *Executor) countReply(err error) {
	if err == nil || errors.Is(err, redis.Nil) || isServerError(err) {
		e.scriptStats.hit()
	}
}

// isServerError reports whether err is a reply from the server. It is its
// own function so that the target errors.As needs escapes to the heap only
// on this rare path, not on every EVALSHA.
func isServerError(err error) bool {
	var redisErr redis.Error
	return errors.As(err, &redisErr)
}

// reload loads s unless another caller has loaded it since generation was
// read. Concurrent NOSCRIPTs share one SCRIPT LOAD and count one reload,
// and each caller waits for it only as long as its own context allows.
func (e *Executor) reload(ctx context.Context, s *script, generation uint64) error {
	if s.loaded.Load() != generation {
		return nil
	}
	_, _, err := s.reload.Do(ctx, func(ctx context.Context) (struct{}, error) {
		if s.loaded.Load() != generation {
			return struct{}{}, nil // loaded by a call that ended just before this one began
		}
		if _, err := scriptLoad(ctx, e.rdb, s.src); err != nil {
			return struct{}{}, fmt.Errorf("otelexec: reload script %s: %w", s.name, err)
		}
		s.loaded.Add(1)
		e.scriptStats.reload()
		e.logger.LogAttrs(ctx, slog.LevelWarn, "otelexec: Redis had lost a Lua script (SCRIPT FLUSH, restart or failover); reloaded it",
			slog.String("script", s.name), slog.String("sha", s.sha))
		return struct{}{}, nil
	})
	return err
}

// scriptLoad loads src on every node that may run it. A ClusterClient's
// ScriptLoad already goes to every shard; a Ring's would go to one random
// shard, because SCRIPT LOAD names no key, so there it is sent to each.
func scriptLoad(ctx context.Context, rdb redis.UniversalClient, src string) (string, error) {
	ring, ok := rdb.(*redis.Ring)
	if !ok {
		return rdb.ScriptLoad(ctx, src).Result()
	}
	var (
		mu  sync.Mutex
		sha string
	)
	err := ring.ForEachShard(ctx, func(ctx context.Context, shard *redis.Client) error {
		v, err := shard.ScriptLoad(ctx, src).Result()
		mu.Lock()
		sha = v
		mu.Unlock()
		return err
	})
	return sha, err
}
