package sfkratos

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
)

// layoutRedis has the getters protoc-gen-go generates for the Kratos
// layout's conf.Data.Redis message.
type layoutRedis struct {
	Network      string
	Addr         string
	ReadTimeout  *durationpb.Duration
	WriteTimeout *durationpb.Duration
}

func (c *layoutRedis) GetNetwork() string                    { return c.Network }
func (c *layoutRedis) GetAddr() string                       { return c.Addr }
func (c *layoutRedis) GetReadTimeout() *durationpb.Duration  { return c.ReadTimeout }
func (c *layoutRedis) GetWriteTimeout() *durationpb.Duration { return c.WriteTimeout }

// extendedRedis adds the fields services commonly add.
type extendedRedis struct {
	layoutRedis
	Password     string
	Db           int32
	PoolSize     int32
	DialTimeout  *durationpb.Duration
	PoolTimeout  *durationpb.Duration
	MaxRetries   int32
	MinIdleConns int32
	Username     string
}

func (c *extendedRedis) GetPassword() string                  { return c.Password }
func (c *extendedRedis) GetUsername() string                  { return c.Username }
func (c *extendedRedis) GetDb() int32                         { return c.Db }
func (c *extendedRedis) GetPoolSize() int32                   { return c.PoolSize }
func (c *extendedRedis) GetMaxRetries() int32                 { return c.MaxRetries }
func (c *extendedRedis) GetMinIdleConns() int32               { return c.MinIdleConns }
func (c *extendedRedis) GetDialTimeout() *durationpb.Duration { return c.DialTimeout }
func (c *extendedRedis) GetPoolTimeout() *durationpb.Duration { return c.PoolTimeout }

func TestNewRedisOptionsLayout(t *testing.T) {
	o, err := NewRedisOptions(&layoutRedis{Network: "tcp", Addr: "127.0.0.1:6379",
		ReadTimeout: durationpb.New(200 * time.Millisecond), WriteTimeout: durationpb.New(300 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if !o.ContextTimeoutEnabled {
		t.Error("ContextTimeoutEnabled is false")
	}
	if o.Network != "tcp" || o.Addr != "127.0.0.1:6379" || o.ReadTimeout != 200*time.Millisecond || o.WriteTimeout != 300*time.Millisecond {
		t.Errorf("options = %+v", o)
	}
	// Missing durations keep go-redis's defaults (zero means default).
	o, err = NewRedisOptions(&layoutRedis{Addr: "127.0.0.1:6379"})
	if err != nil || o.ReadTimeout != 0 || o.WriteTimeout != 0 {
		t.Errorf("unset timeouts: %+v, %v", o, err)
	}
}

func TestNewRedisOptionsExtended(t *testing.T) {
	c := &extendedRedis{
		layoutRedis: layoutRedis{Addr: "127.0.0.1:6379"},
		Username:    "router", Password: "secret", Db: 2, PoolSize: 20, MaxRetries: 1, MinIdleConns: 4,
		DialTimeout: durationpb.New(time.Second), PoolTimeout: durationpb.New(2 * time.Second),
	}
	o, err := NewRedisOptions(c)
	if err != nil {
		t.Fatal(err)
	}
	if o.Username != "router" || o.Password != "secret" || o.DB != 2 || o.PoolSize != 20 || o.MaxRetries != 1 ||
		o.MinIdleConns != 4 || o.DialTimeout != time.Second || o.PoolTimeout != 2*time.Second {
		t.Errorf("options = %+v", o)
	}
}

func TestNewRedisOptionsErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		c     RedisConfig
		field string
	}{
		{"nil", nil, "nil RedisConfig"},
		{"no addr", &layoutRedis{}, "redis.addr"},
		{"network", &layoutRedis{Network: "udp", Addr: "x:1"}, "redis.network"},
		{"negative read", &layoutRedis{Addr: "x:1", ReadTimeout: durationpb.New(-time.Second)}, "redis.read_timeout"},
		{"malformed write", &layoutRedis{Addr: "x:1", WriteTimeout: &durationpb.Duration{Seconds: 1, Nanos: -1}}, "redis.write_timeout"},
		{"negative dial", &extendedRedis{layoutRedis: layoutRedis{Addr: "x:1"}, DialTimeout: durationpb.New(-1)}, "redis.dial_timeout"},
		{"negative db", &extendedRedis{layoutRedis: layoutRedis{Addr: "x:1"}, Db: -1}, "redis.db"},
		{"negative pool", &extendedRedis{layoutRedis: layoutRedis{Addr: "x:1"}, PoolSize: -3}, "redis.pool_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRedisOptions(tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("err = %v, want one naming %s", err, tc.field)
			}
			if _, err2 := NewRedisClient(tc.c); err2 == nil {
				t.Error("NewRedisClient accepted it")
			}
		})
	}
}

// TestNewRedisClientHonoursTheContext: with ContextTimeoutEnabled the
// client's commands end at the context's deadline, not at the read timeout.
func TestNewRedisClientHonoursTheContext(t *testing.T) {
	addr := redisAddr(t)
	rdb, err := NewRedisClient(&layoutRedis{Network: "tcp", Addr: addr, ReadTimeout: durationpb.New(10 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// BLPOP on a key nobody pushes to blocks on the server for 5 s; the
	// context's 100 ms must end the call.
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = rdb.BLPop(cctx, 5*time.Second, "sf:{"+testNamespace(t)+":blpop}").Err()
	if took := time.Since(start); err == nil || took > 2*time.Second {
		t.Errorf("BLPOP returned %v after %v; want the context's deadline after about 100ms", err, took)
	}
}
