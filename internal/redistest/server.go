package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server process owned by one test. It can be stopped,
// killed and started again on the same port and data directory, which is what
// fault tests need.
type Server struct {
	Addr string
	Port int
	Dir  string

	args []string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *bytes.Buffer
}

// StartServer starts a redis-server on a free loopback port with its own
// temporary directory; extra are added to its command line (for example
// "--appendonly", "yes"). The test is skipped when redis-server is not on
// PATH, unless REDIS_REQUIRED=1, when it fails. The server is killed when the
// test ends.
func StartServer(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	RequireBinary(tb, "redis-server")
	s, err := startProcess(extra, tb.TempDir())
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	tb.Cleanup(s.Kill)
	return s
}

// RequireBinary skips the test when name is not on PATH, or fails it when
// REDIS_REQUIRED=1: CI must never count a skipped fault test as a pass.
func RequireBinary(tb testing.TB, name string) {
	tb.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if Required() {
			tb.Fatalf("redistest: %s not on PATH and REDIS_REQUIRED=1", name)
		}
		tb.Skipf("redistest: %s not on PATH; install Debian's redis-server to run this test", name)
	}
}

func startProcess(extra []string, dirs ...string) (*Server, error) {
	dir := ""
	if len(dirs) > 0 {
		dir = dirs[0]
	} else {
		d, err := os.MkdirTemp("", "redistest-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Port: port, Dir: dir}
	s.args = append([]string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--dir", dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--protected-mode", "no",
	}, extra...)
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// Start starts the server again after Stop or Kill, on the same port and
// directory, and waits until it answers PING.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("redistest: server already running")
	}
	cmd := exec.Command("redis-server", s.args...)
	s.log = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	// Pdeathsig-like safety: the process group lets Kill take everything.
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server %s: %w", strings.Join(s.args, " "), err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			s.cmd = nil
			return fmt.Errorf("redis-server exited at start: %s", s.log.String())
		default:
		}
		if ping(s.Addr) == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s did not answer within 10s: %s", s.Addr, s.log.String())
}

// Kill stops the server at once with SIGKILL, as a crash would.
func (s *Server) Kill() { s.signal(true) }

// Stop stops the server with SIGTERM and waits for it to exit.
func (s *Server) Stop() { s.signal(false) }

func (s *Server) signal(kill bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	if kill {
		_ = s.cmd.Process.Kill()
	} else {
		_ = s.cmd.Process.Signal(os.Interrupt)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Client returns a client of this server, closed when the test ends.
func (s *Server) Client(tb testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Cluster is a Redis Cluster of test-owned redis-server processes on loopback.
type Cluster struct {
	Servers []*Server
}

// Addrs returns the addresses of the cluster's nodes.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		out[i] = s.Addr
	}
	return out
}

// Client returns a cluster client of this cluster, closed when the test ends.
func (c *Cluster) Client(tb testing.TB) *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	tb.Cleanup(func() { _ = cc.Close() })
	return cc
}

// StartCluster starts masters redis-server processes with cluster mode on and
// joins them with redis-cli --cluster create (no replicas). It waits until the
// cluster reports state ok.
func StartCluster(tb testing.TB, masters int) *Cluster {
	tb.Helper()
	RequireBinary(tb, "redis-server")
	RequireBinary(tb, "redis-cli")
	c := &Cluster{}
	for i := 0; i < masters; i++ {
		dir := filepath.Join(tb.TempDir(), strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		s, err := startProcess([]string{"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--cluster-node-timeout", "2000"}, dir)
		if err != nil {
			tb.Fatalf("redistest: %v", err)
		}
		tb.Cleanup(s.Kill)
		c.Servers = append(c.Servers, s)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command("redis-cli", args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("redistest: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, s := range c.Servers {
		rc := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})
		for {
			info, err := rc.ClusterInfo(ctx).Result()
			if err == nil && bytes.Contains([]byte(info), []byte("cluster_state:ok")) {
				break
			}
			if ctx.Err() != nil {
				rc.Close()
				tb.Fatalf("redistest: cluster node %s not ok within 20s: %v %s", s.Addr, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		rc.Close()
	}
	return c
}
