package sfkratos

import (
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
		return nil, fmt.Errorf("sfkratos: NewRedisOptions: nil RedisConfig")
	}
	o := &redis.Options{
		Network:               c.GetNetwork(),
		Addr:                  c.GetAddr(),
		ContextTimeoutEnabled: true,
		DialerRetries:         1,
	}
	switch o.Network {
	case "", "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, fmt.Errorf("sfkratos: redis.network: want tcp, tcp4, tcp6 or unix, got %q", o.Network)
	}
	if o.Addr == "" {
		return nil, fmt.Errorf("sfkratos: redis.addr: must be set")
	}
	var err error
	if o.ReadTimeout, err = duration("read_timeout", c.GetReadTimeout()); err != nil {
		return nil, err
	}
	if o.WriteTimeout, err = duration("write_timeout", c.GetWriteTimeout()); err != nil {
		return nil, err
	}
	if g, ok := c.(interface{ GetDialTimeout() *durationpb.Duration }); ok {
		if o.DialTimeout, err = duration("dial_timeout", g.GetDialTimeout()); err != nil {
			return nil, err
		}
	}
	if g, ok := c.(interface{ GetPoolTimeout() *durationpb.Duration }); ok {
		if o.PoolTimeout, err = duration("pool_timeout", g.GetPoolTimeout()); err != nil {
			return nil, err
		}
	}
	if g, ok := c.(interface{ GetUsername() string }); ok {
		o.Username = g.GetUsername()
	}
	if g, ok := c.(interface{ GetPassword() string }); ok {
		o.Password = g.GetPassword()
	}
	if g, ok := c.(interface{ GetDb() int32 }); ok {
		if o.DB, err = count("db", g.GetDb()); err != nil {
			return nil, err
		}
	}
	if g, ok := c.(interface{ GetPoolSize() int32 }); ok {
		if o.PoolSize, err = count("pool_size", g.GetPoolSize()); err != nil {
			return nil, err
		}
	}
	if g, ok := c.(interface{ GetMinIdleConns() int32 }); ok {
		if o.MinIdleConns, err = count("min_idle_conns", g.GetMinIdleConns()); err != nil {
			return nil, err
		}
	}
	if g, ok := c.(interface{ GetMaxRetries() int32 }); ok {
		if o.MaxRetries, err = count("max_retries", g.GetMaxRetries()); err != nil {
			return nil, err
		}
	}
	return o, nil
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

func duration(field string, d *durationpb.Duration) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, fmt.Errorf("sfkratos: redis.%s: %w", field, err)
	}
	v := d.AsDuration()
	if v < 0 {
		return 0, fmt.Errorf("sfkratos: redis.%s: must be >= 0, got %v", field, v)
	}
	return v, nil
}

func count(field string, n int32) (int, error) {
	if n < 0 {
		return 0, fmt.Errorf("sfkratos: redis.%s: must be >= 0, got %d", field, n)
	}
	return int(n), nil
}
