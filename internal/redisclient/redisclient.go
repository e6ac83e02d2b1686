// Package redisclient holds what sfotel's packages learn about one go-redis
// client and must share: redisinstr tells the executor whether it records a
// span per Redis command, so the executor can shape its own span to match.
package redisclient

import (
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/attach"
)

// State is one client's shared state.
type State struct {
	// CommandSpans counts the open redisinstr instrumentations of the
	// client that record command spans.
	CommandSpans atomic.Int32
}

var states attach.Table[State]

// Of returns the state of rdb, the same for every caller while any of them
// holds it.
func Of(rdb redis.UniversalClient) *State {
	s, _ := states.Get(rdb, func() (*State, error) { return &State{}, nil })
	return s
}
