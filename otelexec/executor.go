package otelexec

import (
	"context"
	"errors"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// Executor runs the stateful operations over Redis, each one traced and
// measured. It is safe for concurrent use.
type Executor struct {
	rdb         redis.UniversalClient
	tel         *telemetry
	scripts     scripts
	scriptStats scriptCounters
	logger      *slog.Logger
	states      *stateCache // nil unless WithStateCache
}

// New returns an Executor over rdb, which may be a *redis.Client, a
// *redis.ClusterClient or a *redis.Ring. Unless WithoutPreload is given it
// loads the Lua scripts (SCRIPT LOAD) and returns an error if Redis refuses
// them. The executor does not own rdb: closing it is the caller's job.
func New(rdb redis.UniversalClient, opts ...Option) (*Executor, error) {
	if rdb == nil {
		return nil, &ArgumentError{Field: "rdb", Reason: "nil"}
	}
	c := newConfig(opts)
	e := &Executor{rdb: rdb, scripts: loadScripts(), logger: c.logger}
	if c.preload {
		if err := preload(context.Background(), rdb, e.scripts.all()); err != nil {
			return nil, err
		}
	}
	tel, err := newTelemetry(&c, rdb, &e.scriptStats)
	if err != nil {
		return nil, errors.Join(err, tel.close())
	}
	e.tel = tel
	if e.states, err = newStateCache(&c); err != nil {
		return nil, errors.Join(err, tel.close())
	}
	return e, nil
}

// Close stops reporting the executor's script and state cache metrics. It
// does not close the Redis client. The executor's operations keep working.
func (e *Executor) Close() error { return errors.Join(e.tel.close(), e.states.close()) }

// ScriptStats returns the EVALSHA hits, NOSCRIPT misses and script reloads
// since New.
func (e *Executor) ScriptStats() ScriptStats { return e.scriptStats.snapshot() }
