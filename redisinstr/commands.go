package redisinstr

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/statefulroute/sfotel/internal/contract"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// commandNames is the fixed set of commands that get a db.operation.name of
// their own; every other command is "_OTHER" (the conventions' value for an
// unknown name, as for http.request.method), so a client that sends odd
// command names cannot grow the number of series.
var commandNames = [...]string{
	"append", "blpop", "brpop", "client", "cluster", "command", "copy",
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

// Operation indexes past the named commands.
const (
	opOther = len(commandNames) + iota
	opPipeline
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
	opMulti = commandIndex["multi"]
	// operationNames are the db.operation.name values, upper case as in the
	// conventions' Redis examples.
	operationNames = func() [numOps]string {
		var out [numOps]string
		for k, name := range commandNames {
			out[k] = strings.ToUpper(name)
		}
		out[opOther] = "_OTHER"
		out[opPipeline] = "PIPELINE"
		out[opTransaction] = "MULTI"
		return out
	}()
)

// commandHook records db.client.operation.duration for every command and
// pipeline of one node client. Its record options are built once per
// (operation, error class) on first use and then only read, so a command
// costs two clock reads, a map lookup and the histogram update: no
// allocation.
type commandHook struct {
	hist   metric.Float64Histogram
	closed *atomic.Bool
	base   []attribute.KeyValue // db.system.name, server.address, server.port
	opts   [numOps][contract.NumErrorTypes]atomic.Pointer[[]metric.RecordOption]
}

var _ redis.Hook = (*commandHook)(nil)

func newCommandHook(hist metric.Float64Histogram, closed *atomic.Bool, addr string) *commandHook {
	return &commandHook{
		hist:   hist,
		closed: closed,
		base:   append([]attribute.KeyValue{semconv.DBSystemNameRedis}, serverAttrs(addr)...),
	}
}

func (h *commandHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *commandHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.closed.Load() || !h.hist.Enabled(ctx) {
			return next(ctx, cmd)
		}
		start := time.Now()
		err := next(ctx, cmd)
		h.hist.Record(ctx, time.Since(start).Seconds(), h.options(operationOf(cmd), contract.Classify(err))...)
		return err
	}
}

func (h *commandHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.closed.Load() || !h.hist.Enabled(ctx) || isIdentityHandshake(cmds) {
			return next(ctx, cmds)
		}
		op := opPipeline
		if len(cmds) > 0 && operationOf(cmds[0]) == opMulti {
			op = opTransaction
		}
		start := time.Now()
		err := next(ctx, cmds)
		h.hist.Record(ctx, time.Since(start).Seconds(), h.options(op, contract.Classify(err))...)
		return err
	}
}

// isIdentityHandshake reports whether cmds is the CLIENT SETINFO pipeline
// go-redis sends on every new connection. Servers before Redis 7.2 refuse the
// command and go-redis ignores that by design; recorded, it would put one
// failed PIPELINE on the dashboards for every connection the pool opens.
func isIdentityHandshake(cmds []redis.Cmder) bool {
	if len(cmds) == 0 {
		return false
	}
	args := cmds[0].Args()
	if len(args) < 2 {
		return false
	}
	name, _ := args[0].(string)
	sub, _ := args[1].(string)
	return strings.EqualFold(name, "client") && strings.EqualFold(sub, "setinfo")
}

// options returns the record options of one (operation, error class).
func (h *commandHook) options(op int, class contract.ErrorType) []metric.RecordOption {
	p := &h.opts[op][class]
	if o := p.Load(); o != nil {
		return *o
	}
	attrs := append(h.base[:len(h.base):len(h.base)], semconv.DBOperationName(operationNames[op]))
	if class != contract.NoError {
		attrs = append(attrs, semconv.ErrorTypeKey.String(class.String()))
	}
	o := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
	// Two first uses may race; both build the same options, either wins.
	p.CompareAndSwap(nil, &o)
	return *p.Load()
}

// operationOf maps a command to its operation index without allocating,
// whatever the case of its name.
func operationOf(cmd redis.Cmder) int {
	args := cmd.Args()
	if len(args) == 0 {
		return opOther
	}
	name, ok := args[0].(string)
	if !ok {
		return opOther
	}
	if k, ok := commandIndex[name]; ok {
		return k
	}
	if len(name) > maxCommandLen {
		return opOther
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
	return opOther
}
