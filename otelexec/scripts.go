package otelexec

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/*.lua
var scriptFiles embed.FS

// script is one embedded Lua script. Its SHA1 is computed locally, so EVALSHA
// needs no round trip to learn it.
type script struct {
	name string // file name, for logs
	src  string
	sha  string

	// loaded counts the script loads this process has done. A caller
	// remembers it before EVALSHA; on NOSCRIPT it reloads only when nobody
	// reloaded since, so concurrent NOSCRIPTs cause one SCRIPT LOAD.
	loaded atomic.Uint64
	mu     sync.Mutex
}

func mustScript(name string) *script {
	src, err := scriptFiles.ReadFile("scripts/" + name)
	if err != nil {
		panic("otelexec: missing embedded script " + name) // a build defect, not a runtime fault
	}
	return &script{name: name, src: string(src), sha: redis.NewScript(string(src)).Hash()}
}

// scripts are the executor's Lua scripts, parsed from the embedded files once.
type scripts struct {
	setLinked, setIfAbsent, trySet, getIfPersist, remove, removeWithID *script
}

func loadScripts() scripts {
	return scripts{
		setLinked:    mustScript("set_linked_pod.lua"),
		setIfAbsent:  mustScript("set_linked_pod_if_absent.lua"),
		trySet:       mustScript("try_set_linked_pod.lua"),
		getIfPersist: mustScript("get_linked_pod_if_persist.lua"),
		remove:       mustScript("remove_linked_pod.lua"),
		removeWithID: mustScript("remove_linked_pod_with_id.lua"),
	}
}

func (s scripts) all() []*script {
	return []*script{s.setLinked, s.setIfAbsent, s.trySet, s.getIfPersist, s.remove, s.removeWithID}
}

// ScriptStats counts the executor's EVALSHA outcomes since New.
type ScriptStats struct {
	Hits    uint64 // EVALSHA replies other than NOSCRIPT
	Misses  uint64 // NOSCRIPT replies
	Reloads uint64 // SCRIPT LOADs, or EVALs of a script flushed twice, after a NOSCRIPT (not the preload in New)
}

// HitRatio is Hits / (Hits + Misses), or 1 before the first EVALSHA.
func (s ScriptStats) HitRatio() float64 {
	if s.Hits+s.Misses == 0 {
		return 1
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

type scriptCounters struct {
	hits, misses, reloads atomic.Uint64
}

func (c *scriptCounters) snapshot() ScriptStats {
	return ScriptStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Reloads: c.reloads.Load()}
}

// preload loads every script at New and checks that Redis agrees on the SHA.
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
// by EVAL. Every EVALSHA reply counts as a hit or a miss.
func (e *Executor) evalSha(ctx context.Context, s *script, keys []string, args ...any) (any, error) {
	generation := s.loaded.Load()
	v, err := e.rdb.EvalSha(ctx, s.sha, keys, args...).Result()
	if !isNoScript(err) {
		e.countReply(err)
		return v, err
	}
	e.scriptStats.misses.Add(1)
	if err := e.reload(ctx, s, generation); err != nil {
		return nil, err
	}
	v, err = e.rdb.EvalSha(ctx, s.sha, keys, args...).Result()
	if !isNoScript(err) {
		e.countReply(err)
		return v, err
	}
	// Flushed again between the reload and the retry. EVAL carries the
	// source, so it cannot answer NOSCRIPT, and it caches the script again:
	// it counts as the reload of this miss.
	e.scriptStats.misses.Add(1)
	e.scriptStats.reloads.Add(1)
	return e.rdb.Eval(ctx, s.src, keys, args...).Result()
}

// countReply counts a reply as a script cache hit; an error that is not a
// server reply (a timeout, a broken connection) says nothing about the cache.
func (e *Executor) countReply(err error) {
	if err == nil || errors.Is(err, redis.Nil) || isServerError(err) {
		e.scriptStats.hits.Add(1)
	}
}

// isServerError reports whether err is a reply from the server. It is its
// own function so that the target errors.As needs escapes to the heap only
// on this rare path, not on every EVALSHA.
func isServerError(err error) bool {
	var redisErr redis.Error
	return errors.As(err, &redisErr)
}

// reload loads s unless another goroutine has loaded it since generation was
// read; concurrent NOSCRIPTs wait for one SCRIPT LOAD and count one reload.
func (e *Executor) reload(ctx context.Context, s *script, generation uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded.Load() != generation {
		return nil
	}
	if _, err := scriptLoad(ctx, e.rdb, s.src); err != nil {
		return fmt.Errorf("otelexec: reload script %s: %w", s.name, err)
	}
	s.loaded.Add(1)
	e.scriptStats.reloads.Add(1)
	e.logger.LogAttrs(ctx, slog.LevelWarn, "otelexec: Redis had lost a Lua script (SCRIPT FLUSH, restart or failover); reloaded it",
		slog.String("script", s.name), slog.String("sha", s.sha))
	return nil
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
