package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// backend is the Redis the run uses and how to let go of it.
type backend struct {
	client      redis.UniversalClient
	description string // for the start-up line
	embedded    *miniredis.Miniredis
}

// openRedis connects to the Redis the flags name, or starts the embedded
// miniredis when they name none, and proves it answers: an unreachable
// Redis is a start-up error, not a run full of failed operations.
func openRedis(ctx context.Context, addrs []string) (*backend, error) {
	b := &backend{}
	if len(addrs) == 0 {
		m, err := miniredis.Run()
		if err != nil {
			return nil, fmt.Errorf("start the embedded Redis: %w", err)
		}
		b.embedded = m
		addrs = []string{m.Addr()}
		b.description = "embedded miniredis at " + m.Addr() + " (give -redis or REDIS_ADDR for a real one)"
	} else {
		b.description = "Redis at " + strings.Join(addrs, ",")
	}
	// More than one address makes a cluster client.
	// ContextTimeoutEnabled: without it go-redis ignores context deadlines
	// and a stalled Redis holds every call for its full read timeout.
	// MaxRedirects 8 rides out a slot migration (TRYAGAIN, ASK) on a cluster.
	b.client = redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 addrs,
		DialTimeout:           2 * time.Second,
		ContextTimeoutEnabled: true,
		MaxRedirects:          8,
	})
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.client.Ping(pingCtx).Err(); err != nil {
		b.close()
		return nil, fmt.Errorf("Redis at %s is unreachable: %w (start one, or leave out -redis and REDIS_ADDR to use the embedded server)", strings.Join(addrs, ","), err)
	}
	return b, nil
}

func (b *backend) close() {
	_ = b.client.Close()
	if b.embedded != nil {
		b.embedded.Close()
	}
}

// deleteNamespace removes the run's keys, on every master of a cluster. The
// namespace rules forbid glob characters, so the pattern matches only this
// namespace's keys.
func deleteNamespace(ctx context.Context, rdb redis.UniversalClient, namespace string) error {
	pattern := "sf:{" + namespace + ":*"
	del := func(ctx context.Context, node redis.UniversalClient) error {
		iter := node.Scan(ctx, 0, pattern, 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 1000 {
				if err := unlinkEach(ctx, node, keys); err != nil {
					return err
				}
				keys = keys[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return unlinkEach(ctx, node, keys)
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return del(ctx, node) })
	}
	return del(ctx, rdb)
}

// unlinkEach unlinks keys one command each, pipelined: the keys carry
// different hash tags, so one multi-key UNLINK would fail on a cluster.
func unlinkEach(ctx context.Context, rdb redis.UniversalClient, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Unlink(ctx, k)
		}
		return nil
	})
	return err
}
