package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/report"
)

// TestReadmeShowsThisProgram: README.md's "Use it as a library" code block
// is this directory's main.go, byte for byte, so the README's example
// always compiles and runs (TestRunAgainstRedis runs it).
func TestReadmeShowsThisProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Use it as a library\n")
	if !ok {
		t.Fatal(`README.md has no "## Use it as a library" section`)
	}
	_, block, ok := strings.Cut(section, "\n```go\n")
	if !ok {
		t.Fatal(`README.md's "Use it as a library" has no go code block`)
	}
	block, _, ok = strings.Cut(block, "\n```\n")
	if !ok {
		t.Fatal(`README.md's library code block is not closed`)
	}
	if block+"\n" != string(src) {
		t.Fatal("README.md's library example differs from examples/library/main.go: copy main.go into the README's code block")
	}
}

// TestRunAgainstRedis builds the program and runs it against a
// redis-server of its own, as a user would: it must link the user to the
// least-loaded pod (not -1), serve the executor's and the Redis client's
// metrics and the report, and exit 0 on SIGTERM.
func TestRunAgainstRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	bin := filepath.Join(t.TempDir(), "library")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	cmd := exec.Command(bin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") && !strings.HasPrefix(kv, "REDIS_ADDR=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "REDIS_ADDR="+srv.Addr, "LISTEN_ADDR="+listen)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	defer func() { _ = cmd.Process.Kill() }()

	var out []string
	timeout := time.After(30 * time.Second)
	for len(out) == 0 || !strings.HasPrefix(out[len(out)-1], "serving ") {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("exited early: %v\nstdout: %q\nstderr:\n%s", <-exited, out, stderr.String())
			}
			out = append(out, l)
		case <-timeout:
			t.Fatalf("not serving after 30 s; stdout %q, stderr:\n%s", out, stderr.String())
		}
	}
	if out[0] != "user-42 is on pod 1" {
		t.Errorf("first line %q, want the least-loaded pod, 1", out[0])
	}

	metrics := httpGet(t, "http://"+listen+"/metrics")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^stateful_executor_operations_total\{operation="ComputeLinkedPod",status="ok"\} 1$`),
		regexp.MustCompile(`(?m)^stateful_executor_operations_total\{operation="SetServiceState",status="ok"\} 3$`),
		regexp.MustCompile(`(?m)^stateful_executor_redis_connection_status\{[^}]*status="up"[^}]*\} 1$`),
		regexp.MustCompile(`(?m)^db_client_connection_count\{`),
		regexp.MustCompile(`(?m)^go_goroutines `),
	} {
		if !want.MatchString(metrics) {
			t.Errorf("/metrics has no line matching %s:\n%.3000s", want, metrics)
		}
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(httpGet(t, "http://"+listen+report.DefaultPath+"?format=json")), &rep); err != nil {
		t.Fatal(err)
	}
	if op := rep.Operation("ComputeLinkedPod"); op == nil || op.Count != 1 {
		t.Errorf("report's ComputeLinkedPod row: %+v", op)
	}

	// The link is in Redis, where another executor finds it.
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	other, err := otelexec.New(rdb)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if pod, err := other.GetLinkedPod(context.Background(), "prod", "user-42", "match"); err != nil || pod != 1 {
		t.Errorf("GetLinkedPod = %d, %v; want 1", pod, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("still running 15 s after SIGTERM")
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return string(b)
}
