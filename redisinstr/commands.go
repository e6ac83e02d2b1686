package redisinstr

import (
	"strings"

	"github.com/redis/go-redis/v9"
)

// commandNames is the fixed set of commands that get a db.operation.name of
// their own. Any other command is recorded without db.operation.name (the
// conventions define no stand-in value for it), so a client that sends odd
// command names cannot grow the number of series.
var commandNames = [...]string{
	"append", "auth", "blpop", "brpop", "client", "cluster", "command", "copy",
	"decr", "decrby", "del", "eval", "eval_ro", "evalsha", "evalsha_ro",
	"exec", "exists", "expire", "expireat", "get", "getdel", "getex",
	"getset", "hdel", "hello", "hexists", "hget", "hgetall", "hincrby",
	"hkeys", "hlen", "hmget", "hmset", "hscan", "hset", "hsetnx", "hvals",
	"incr", "incrby", "info", "lindex", "llen", "lpop", "lpush", "lrange",
	"lrem", "ltrim", "mget", "mset", "multi", "persist", "pexpire", "ping",
	"pttl", "publish", "rpop", "rpush", "sadd", "scan", "scard", "script",
	"select", "set", "setex", "setnx", "sismember", "smembers", "srem",
	"ttl", "type", "unlink", "watch", "xadd", "zadd", "zcard", "zincrby",
	"zrange", "zrangebyscore", "zrank", "zrem", "zscore",
}

// Operation indexes: a named command k is k; a pipeline of that command
// only is numCommands+k; a transaction of it only 2*numCommands+k; then the
// rest.
const (
	numCommands = len(commandNames)
	// opUnknown is a command outside the table: no db.operation.name.
	opUnknown = 3*numCommands + iota
	// opPipeline is a pipeline of mixed or unknown commands: PIPELINE.
	opPipeline
	// opTransaction is a MULTI/EXEC of mixed or unknown commands: MULTI.
	opTransaction
	numOps
)

// maxCommandLen bounds the stack buffer used to lower-case a command name.
const maxCommandLen = 16

var (
	commandIndex = func() map[string]int {
		m := make(map[string]int, len(commandNames))
		for k, name := range commandNames {
			m[name] = k
		}
		return m
	}()
	opMulti   = commandIndex["multi"]
	opExec    = commandIndex["exec"]
	opEvalSha = commandIndex["evalsha"]
	// operationNames are the db.operation.name values, upper case as in the
	// conventions' Redis examples; a pipeline or transaction of one command
	// is "PIPELINE <command>" or "MULTI <command>", as the Redis conventions
	// name them.
	operationNames = func() [numOps]string {
		var out [numOps]string
		for k, name := range commandNames {
			out[k] = strings.ToUpper(name)
			out[numCommands+k] = "PIPELINE " + strings.ToUpper(name)
			out[2*numCommands+k] = "MULTI " + strings.ToUpper(name)
		}
		out[opPipeline] = "PIPELINE"
		out[opTransaction] = "MULTI"
		return out
	}()
)

// operationOf maps a command to its operation index without allocating,
// whatever the case of its name.
func operationOf(cmd redis.Cmder) int {
	var name string
	if args := cmd.Args(); len(args) > 0 {
		name, _ = args[0].(string)
	}
	if k, ok := commandIndex[name]; ok {
		return k
	}
	if len(name) > maxCommandLen {
		return opUnknown
	}
	var buf [maxCommandLen]byte
	for k := 0; k < len(name); k++ {
		c := name[k]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[k] = c
	}
	// The compiler does not allocate for a map index by string(bytes).
	if k, ok := commandIndex[string(buf[:len(name)])]; ok {
		return k
	}
	return opUnknown
}

// pipelineOperation names a pipeline, a transaction (MULTI, its commands,
// EXEC) or a plain one, after its commands when they are all one known
// command, and returns the number of commands it batches.
func pipelineOperation(cmds []redis.Cmder) (op, size int) {
	mixed, base := opPipeline, numCommands
	if len(cmds) >= 2 && operationOf(cmds[0]) == opMulti && operationOf(cmds[len(cmds)-1]) == opExec {
		cmds, mixed, base = cmds[1:len(cmds)-1], opTransaction, 2*numCommands
	}
	if len(cmds) == 0 {
		return mixed, 0
	}
	first := operationOf(cmds[0])
	if first == opUnknown {
		return mixed, len(cmds)
	}
	for _, c := range cmds[1:] {
		if operationOf(c) != first {
			return mixed, len(cmds)
		}
	}
	return base + first, len(cmds)
}

// isIdentityCommand reports whether cmd is CLIENT SETINFO, which go-redis
// sends alone or first in the pipeline it sends on every new connection.
// Servers before Redis 7.2 refuse it and go-redis ignores that by design;
// recorded, it would put one failed command on the dashboards for every
// connection the pool opens.
func isIdentityCommand(cmd redis.Cmder) bool {
	args := cmd.Args()
	if len(args) < 2 {
		return false
	}
	name, _ := args[0].(string)
	sub, _ := args[1].(string)
	return strings.EqualFold(name, "client") && strings.EqualFold(sub, "setinfo")
}
