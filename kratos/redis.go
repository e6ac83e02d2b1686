package sfkratos

import (
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/types/known/durationpb"
)

// RedisConfig is the Redis block of a Kratos service's configuration: the
// getters protoc-gen-go generates for the Data.Redis message of the Kratos
// project layout (internal/conf/conf.proto),
//
//	message Redis {
//	  string network = 1;
//	  string addr = 2;
//	  google.protobuf.Duration read_timeout = 3;
//	  google.protobuf.Duration write_timeout = 4;
//	}
//
// so a *conf.Data_Redis can be passed as it is. NewRedisOptions also reads
// the fields many services add, when their getters exist: username and
// password (string), db, pool_size, min_idle_conns and max_retries (int32),
// dial_timeout and pool_timeout (google.protobuf.Duration).
type RedisConfig interface {
	GetNetwork() string
	GetAddr() string
	GetReadTimeout() *durationpb.Duration
	GetWriteTimeout() *durationpb.Duration
}

// NewRedisOptions returns the go-redis options for c, with
// ContextTimeoutEnabled: true, so a request's deadline (the Kratos server's
// timeout, a gRPC client's deadline) bounds each Redis call; without it a
// stalled Redis holds a call for the full read timeout whatever the request
// allows. And with DialerRetries: 1, so a refused connection (Redis down
// or restarting) fails the request at once, 503 Unavailable, and the
// router sheds its load: go-redis would dial 5 times, 100 ms apart, for
// each of its pools a call uses. Unset fields keep go-redis's defaults (a
// zero or missing duration is the default, 3 s for reads and writes, 5 s
// to dial).
//
// Bad values are errors that name the field: an empty addr, a network other
// than tcp, tcp4, tcp6 or unix, a negative or malformed duration, a negative
// count. (go-redis reads -1 as "no timeout"; a configuration cannot ask for
// that here, as an unbounded Redis call is never what a router wants.)
func NewRedisOptions(c RedisConfig) (*redis.Options, error) {
	if c == nil {
		return nil, errors.New("sfkratos: NewRedisOptions: nil RedisConfig")
	}
	var err error // the first bad field's
	bad := func(field, format string, args ...any) {
		if err == nil {
			err = fmt.Errorf("sfkratos: redis.%s: "+format, append([]any{field}, args...)...)
		}
	}
	switch c.GetNetwork() {
	case "", "tcp", "tcp4", "tcp6", "unix":
	default:
		bad("network", "want tcp, tcp4, tcp6 or unix, got %q", c.GetNetwork())
	}
	if c.GetAddr() == "" {
		bad("addr", "must be set")
	}
	duration := func(field string, d *durationpb.Duration) time.Duration {
		switch v, invalid := d.AsDuration(), d.CheckValid(); {
		case d == nil:
		case invalid != nil:
			bad(field, "%w", invalid)
		case v < 0:
			bad(field, "must be >= 0, got %v", v)
		default:
			return v
		}
		return 0
	}
	count := func(field string, n int32) int {
		if n < 0 {
			bad(field, "must be >= 0, got %d", n)
		}
		return int(n)
	}
	o := &redis.Options{
		Network:               c.GetNetwork(),
		Addr:                  c.GetAddr(),
		ContextTimeoutEnabled: true,
		DialerRetries:         1,
		ReadTimeout:           duration("read_timeout", c.GetReadTimeout()),
		WriteTimeout:          duration("write_timeout", c.GetWriteTimeout()),
		DialTimeout:           duration("dial_timeout", optional(c, dialTimeoutGetter.GetDialTimeout)),
		PoolTimeout:           duration("pool_timeout", optional(c, poolTimeoutGetter.GetPoolTimeout)),
		Username:              optional(c, usernameGetter.GetUsername),
		Password:              optional(c, passwordGetter.GetPassword),
		DB:                    count("db", optional(c, dbGetter.GetDb)),
		PoolSize:              count("pool_size", optional(c, poolSizeGetter.GetPoolSize)),
		MinIdleConns:          count("min_idle_conns", optional(c, minIdleConnsGetter.GetMinIdleConns)),
		MaxRetries:            count("max_retries", optional(c, maxRetriesGetter.GetMaxRetries)),
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

// The getters of the fields NewRedisOptions reads when c has them.
type (
	dialTimeoutGetter  interface{ GetDialTimeout() *durationpb.Duration }
	poolTimeoutGetter  interface{ GetPoolTimeout() *durationpb.Duration }
	usernameGetter     interface{ GetUsername() string }
	passwordGetter     interface{ GetPassword() string }
	dbGetter           interface{ GetDb() int32 }
	poolSizeGetter     interface{ GetPoolSize() int32 }
	minIdleConnsGetter interface{ GetMinIdleConns() int32 }
	maxRetriesGetter   interface{ GetMaxRetries() int32 }
)

// optional returns what get reads from c, or the zero value (go-redis's
// default) when c has no such getter.
func optional[G, V any](c RedisConfig, get func(G) V) (v V) {
	if g, ok := c.(G); ok {
		v = get(g)
	}
	return v
}

// NewRedisClient returns a *redis.Client with NewRedisOptions(c). It does no
// I/O: the first command dials.
func NewRedisClient(c RedisConfig) (*redis.Client, error) {
	o, err := NewRedisOptions(c)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(o), nil
}
