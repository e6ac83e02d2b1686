package otelexec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/flight"
	"github.com/statefulroute/sfotel/internal/luascript"
)

// script is one embedded Lua script. Its SHA1 is computed locally, so EVALSHA
// needs no round trip to learn it.
type script struct {
	name  string // file name, for logs
	src   string
	sha   string
	write bool // it changes links: never resent once it may have run (noRetry)

	// loaded counts this executor's loads; before the first, a use sends
	// the source (EVAL). On NOSCRIPT a caller reloads only if nobody
	// reloaded since its EVALSHA.
	loaded atomic.Uint64
	reload flight.Group[struct{}]
}

// mustScript reads an embedded script, the prelude prepended; the SHA1 is
// that of the combined source, which is what Redis runs and caches.
func mustScript(name string, write bool) *script {
	src := luascript.Source(name)
	return &script{name: name, src: src, sha: redis.NewScript(src).Hash(), write: write}
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

// scriptCounters count one executor's script outcomes, for ScriptStats
// and, with metrics, on the SDK's counters.
type scriptCounters struct{ hits, misses, reloads tally }

func (c *scriptCounters) snapshot() ScriptStats {
	return ScriptStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Reloads: c.reloads.Load()}
}

// preload loads every script and checks that Redis agrees on the SHA.
func preload(ctx context.Context, send *sender, all []*script) error {
	for _, s := range all {
		sha, err := scriptLoad(ctx, send, s.src)
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

// evalSha runs the link script s on a user's link to a service (KEYS the
// link hash and link key, ARGV the service and args) by EVALSHA, or by EVAL
// before its first load. On NOSCRIPT it loads the script once and retries
// once, by EVAL should it be gone again. A script that writes drops the
// user's link cache entry after its reply (docs/design.md, "Link cache").
func (e *Executor) evalSha(ctx context.Context, s *script, namespace, uid, serviceName string, args ...any) (any, error) {
	if s.write {
		defer e.links.forget(namespace, uid)
	}
	key := linkKey(namespace, uid, serviceName)
	generation := s.loaded.Load()
	if generation == 0 {
		v, err := e.run(ctx, s, true, key, serviceName, args)
		if err == nil || isServerError(err) {
			s.loaded.CompareAndSwap(0, 1)
		}
		return v, err
	}
	for retry := false; ; retry = true {
		v, err := e.run(ctx, s, false, key, serviceName, args)
		if !contract.IsNoScript(err) {
			e.countReply(ctx, err)
			return v, err
		}
		e.scriptStats.misses.add(ctx)
		if retry {
			break
		}
		if err := e.reload(ctx, s, generation); err != nil {
			return nil, err
		}
	}
	// Flushed again between the reload and the retry. EVAL carries the
	// source, so it cannot answer NOSCRIPT, and it caches the script again:
	// it counts as the reload of this miss.
	e.scriptStats.reloads.add(ctx)
	return e.run(ctx, s, true, key, serviceName, args)
}

// run sends one EVALSHA of s, or one EVAL (the source) when bySource, on
// the link key and its hash key. A read may be resent; a write only when
// Redis refused it unrun, and a write whose reply was lost is
// ErrOutcomeUnknown (sender.write).
func (e *Executor) run(ctx context.Context, s *script, bySource bool, key, serviceName string, args []any) (any, error) {
	verb, body := "evalsha", s.sha
	if bySource {
		verb, body = "eval", s.src
	}
	cmdArgs := append(make([]any, 0, 6+len(args)), verb, body, 2, key[:len(key)-len(serviceName)], key, serviceName)
	cmd := redis.NewCmd(ctx, append(cmdArgs, args...)...)
	var err error
	if s.write {
		err = e.send.write(ctx, noRetry{cmd}) // never sent twice once it may have run
	} else {
		err = e.send.do(ctx, cmd)
	}
	if err != nil {
		return nil, err
	}
	return cmd.Result()
}

// countReply counts a reply as a script cache hit; an error that is not a
// server reply (a timeout, a broken connection) says nothing about the cache.
func (e *Executor) countReply(ctx context.Context, err error) {
	if err == nil || errors.Is(err, redis.Nil) || isServerError(err) {
		e.scriptStats.hits.add(ctx)
	}
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
		if _, err := scriptLoad(ctx, e.send, s.src); err != nil {
			return struct{}{}, fmt.Errorf("otelexec: reload script %s: %w", s.name, err)
		}
		s.loaded.Add(1)
		e.scriptStats.reloads.add(ctx)
		e.logger.LogAttrs(ctx, slog.LevelWarn, "otelexec: Redis had lost a Lua script (SCRIPT FLUSH, restart or failover); reloaded it",
			slog.String("script", s.name), slog.String("sha", s.sha))
		return struct{}{}, nil
	})
	return err
}

// scriptLoad loads src on every node that may run it: on one Redis, as the
// executor sends any command (sender). A ClusterClient's ScriptLoad already
// goes to every shard; a Ring's would go to one random shard, because
// SCRIPT LOAD names no key, so there it is sent to each.
func scriptLoad(ctx context.Context, send *sender, src string) (string, error) {
	switch c := send.rdb.(type) {
	case *redis.Client:
		cmd := redis.NewStringCmd(ctx, "script", "load", src)
		err := send.do(ctx, cmd)
		return cmd.Val(), err
	case *redis.ClusterClient:
		return c.ScriptLoad(ctx, src).Result()
	}
	ring := send.rdb.(*redis.Ring)
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
