// Package redisclient holds what sfotel's packages learn about one go-redis
// client and must share: redisinstr tells the executor whether it records a
// span per Redis command, so the executor can shape its own span to match.
package redisclient

import (
	"sync"
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

// scriptNames maps the SHA1 of each script the executor runs to its name,
// so that redisinstr can name an EVALSHA's script
// (db.stored_procedure.name). The set is the executor's embedded scripts:
// a SHA no one named stays unnamed, so other clients' scripts cannot grow it.
var scriptNames sync.Map // sha -> string

// NameScript records the name of the script whose SHA1 is sha.
func NameScript(sha, name string) { scriptNames.Store(sha, name) }

// ScriptName returns the name of the script whose SHA1 is sha, "" if none.
func ScriptName(sha string) string {
	name, _ := scriptNames.Load(sha)
	s, _ := name.(string)
	return s
}
