package reliability

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
)

// call is one executor operation with every argument given, so a test can
// replace one argument with a hostile value and keep the others valid.
type args struct {
	ns, uid, svc string
	pod, persist int
	state        string
}

type call struct {
	op     string
	fields []string // the arguments it takes, by field name
	run    func(ctx context.Context, e *otelexec.Executor, a args) error
}

var calls = []call{
	{"SetServiceState", []string{"namespace", "service", "pod", "state"}, func(ctx context.Context, e *otelexec.Executor, a args) error {
		return e.SetServiceState(ctx, a.ns, a.svc, a.pod, a.state)
	}},
	{"GetServiceState", []string{"namespace", "service"}, func(ctx context.Context, e *otelexec.Executor, a args) error {
		_, err := e.GetServiceState(ctx, a.ns, a.svc)
		return err
	}},
	{"SetWorkloadState", []string{"namespace", "service", "state"}, func(ctx context.Context, e *otelexec.Executor, a args) error {
		return e.SetWorkloadState(ctx, a.ns, a.svc, a.state)
	}},
	{"GetWorkloadState", []string{"namespace", "service"}, func(ctx context.Context, e *otelexec.Executor, a args) error {
		_, err := e.GetWorkloadState(ctx, a.ns, a.svc)
		return err
	}},
	{"GetWorkloadStateBatch", []string{"namespace", "service"}, func(ctx context.Context, e *otelexec.Executor, a args) error {
		_, err := e.GetWorkloadStateBatch(ctx, a.ns, []string{"ok-svc", a.svc})
		return err
	}},
	{"SetLinkedPod", []string{"namespace", "uid", "service", "pod", "persist"}, func(ctx context.Context, e *otelexec.Executor, a args) error {
		_, err := e.SetLinkedPod(ctx, a.ns, a.uid, a.svc, a.pod, a.persist)
		return err
	}},
	{"TrySetLinkedPod", []string{"namespace", "uid", "service", "pod", "persist"}, func(ctx context.Context, e *otelexec.Executor, a args) error {
		_, _, err := e.TrySetLinkedPod(ctx, a.ns, a.uid, a.svc, a.pod, a.persist)
		return err
	}},
	{"SetLinkedPodIfAbsent", []string{"namespace", "uid", "service", "pod", "persist"}, func(ctx context.Context, e *otelexec.Executor, a args) error {
		_, err := e.SetLinkedPodIfAbsent(ctx, a.ns, a.uid, a.svc, a.pod, a.persist)
		return err
	}},
	{"GetLinkedPod", []string{"namespace", "uid", "service"}, func(ctx context.Context, e *otelexec.Executor, a args) error {
		_, err := e.GetLinkedPod(ctx, a.ns, a.uid, a.svc)
		return err
	}},
	{"GetLinkedPodIfPersist", []string{"namespace", "uid", "service"}, func(ctx context.Context, e *otelexec.Executor, a args) error {
		_, err := e.GetLinkedPodIfPersist(ctx, a.ns, a.uid, a.svc)
		return err
	}},
	{"BatchGetLinkedPod", []string{"namespace", "uid", "service"}, func(ctx context.Context, e *otelexec.Executor, a args) error {
		_, err := e.BatchGetLinkedPod(ctx, a.ns, []string{"ok-uid", a.uid}, a.svc)
		return err
	}},
	{"RemoveLinkedPod", []string{"namespace", "uid", "service", "persist"}, func(ctx context.Context, e *otelexec.Executor, a args) error {
		_, err := e.RemoveLinkedPod(ctx, a.ns, a.uid, a.svc, a.persist)
		return err
	}},
	{"RemoveLinkedPodWithID", []string{"namespace", "uid", "service", "pod", "persist"}, func(ctx context.Context, e *otelexec.Executor, a args) error {
		_, err := e.RemoveLinkedPodWithID(ctx, a.ns, a.uid, a.svc, a.pod, a.persist)
		return err
	}},
	{"GetLinkService", []string{"namespace", "uid"}, func(ctx context.Context, e *otelexec.Executor, a args) error {
		_, err := e.GetLinkService(ctx, a.ns, a.uid)
		return err
	}},
	{"ComputeLinkedPod", []string{"namespace", "uid", "service", "persist"}, func(ctx context.Context, e *otelexec.Executor, a args) error {
		_, err := e.ComputeLinkedPod(ctx, a.ns, a.uid, a.svc, time.Minute, a.persist)
		return err
	}},
}

// fieldNames are the parameter names an *otelexec.ArgumentError may give for
// each field: the method's parameter, or the batch slice with an index.
var fieldNames = map[string][]string{
	"namespace": {"namespace"},
	"service":   {"serviceName", "serviceNames[1]"},
	"uid":       {"uid", "uids[1]"},
	"pod":       {"podID"},
	"persist":   {"persistSeconds"},
	"state":     {"state"},
}

func (c call) takes(field string) bool {
	for _, f := range c.fields {
		if f == field {
			return true
		}
	}
	return false
}

// commandCounter counts every command that reaches the client's network path.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(int64(len(cmds))); return next(ctx, cmds) }
}

// hostileValues lists, per field, the values the input rules (docs/design.md) reject,
// beyond the unit table of otelexec.
func hostileValues(is64 bool) map[string][]any {
	mb := strings.Repeat("a", 1<<20)
	names := []any{"a}b", "a{b", "a:b", "a*b", "a?b", "a[b", "a b", " ", "a\nb", "a\rb", "a\tb", "a\x00b", "a\xffb", "\xc3\x28", "é", mb}
	v := map[string][]any{
		"namespace": names,
		"service":   names,
		"uid": {"a{b", "a}b", "{x}", "}", "a\x00b", "a\x01b", "a\nb", "a\x7fb", "a\u0085b", "\xff\xfe", "a\xc3", " ", "\t",
			strings.Repeat("u", 513), mb},
		"pod":     {-1, math.MinInt32},
		"persist": {0, -2, math.MinInt32},
		"state":   {"", strings.Repeat("s", 4097), mb},
	}
	if is64 {
		// int is 64 bits here: values past int32 must be refused, not truncated.
		v["pod"] = append(v["pod"], math.MaxInt32+1, 1<<40, math.MaxInt64, math.MinInt64)
		v["persist"] = append(v["persist"], math.MaxInt32+1, 1<<40, math.MaxInt64, math.MinInt64)
	}
	return v
}

func set(a args, field string, value any) args {
	switch field {
	case "namespace":
		a.ns = value.(string)
	case "service":
		a.svc = value.(string)
	case "uid":
		a.uid = value.(string)
	case "pod":
		a.pod = value.(int)
	case "persist":
		a.persist = value.(int)
	case "state":
		a.state = value.(string)
	}
	return a
}

func short(v any) string {
	s := fmt.Sprintf("%q", v)
	if len(s) > 24 {
		s = s[:24] + fmt.Sprintf("…(%d bytes)", len(fmt.Sprint(v)))
	}
	return s
}

// TestHostileInputsRejected sends every hostile value of every field to every
// operation that takes that field, on a test-owned empty server. Each call
// must fail with an error wrapping ErrInvalidArgument that names the field,
// no command may reach Redis, and the server must still hold no key at all.
func TestHostileInputsRejected(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := serverClient(t, srv.Addr, 4)
	counter := &commandCounter{}
	e := newExecutor(t, rdb)
	rdb.AddHook(counter) // after New: preloading scripts is not a bad input's doing
	ctx := context.Background()
	ns := "rel.hostile"
	valid := args{ns: ns, uid: "user-1", svc: "svc", pod: 1, persist: -1, state: otelexec.FormatPodState(1, time.Now())}

	is64 := math.MaxInt == math.MaxInt64
	tried := 0
	for field, values := range hostileValues(is64) {
		for _, value := range values {
			for _, c := range calls {
				if !c.takes(field) {
					continue
				}
				a := set(valid, field, value)
				err := c.run(ctx, e, a)
				tried++
				if err == nil {
					t.Errorf("%s with %s=%s: no error", c.op, field, short(value))
					continue
				}
				if !errors.Is(err, otelexec.ErrInvalidArgument) {
					t.Errorf("%s with %s=%s: error %v does not wrap ErrInvalidArgument", c.op, field, short(value), err)
					continue
				}
				var argErr *otelexec.ArgumentError
				if !errors.As(err, &argErr) || !slices.Contains(fieldNames[field], argErr.Field) {
					t.Errorf("%s with %s=%s: error %q does not name the field (want one of %q)", c.op, field, short(value), err, fieldNames[field])
				} else if !strings.Contains(err.Error(), argErr.Field) {
					t.Errorf("%s with %s=%s: message %q does not carry the field name", c.op, field, short(value), err)
				}
				if len(err.Error()) > 2048 {
					t.Errorf("%s with %s=%s: error message is %d bytes; it echoes the hostile value", c.op, field, short(value), len(err.Error()))
				}
			}
		}
	}
	reached := counter.n.Load()
	if reached != 0 {
		t.Errorf("%d commands reached Redis for rejected calls", reached)
	}
	if n, err := rdb.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Errorf("DBSIZE after only rejected calls = %d, %v; want 0", n, err)
	}
	keys, err := redistest.Keys(ctx, rdb, ns)
	if err != nil || len(keys) != 0 {
		t.Errorf("keys of the test namespace: %v, %v; want none", keys, err)
	}
	t.Logf("%d hostile calls rejected (int is 64-bit: %v); %d commands reached Redis", tried, is64, reached)

	// The same executor still serves valid calls (the rejections left it sane).
	if _, err := e.SetLinkedPod(ctx, ns, valid.uid, valid.svc, valid.pod, valid.persist); err != nil {
		t.Fatalf("valid SetLinkedPod after the hostile calls: %v", err)
	}
}

// TestGlobUidsStoredExactly is a property test: uids made of `:` `*` `?` `[`
// `]` `\` and letters (allowed by the input rules) are stored and read back exactly,
// and no two users' links collide: every user keeps exactly its own link,
// and the server holds exactly one hash and one link key per user.
func TestGlobUidsStoredExactly(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := serverClient(t, srv.Addr, 8)
	e := newExecutor(t, rdb)
	ctx := context.Background()
	ns := "rel.glob"
	const svc = "svc"

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	alphabet := []rune(":*?[]\\^!-lkab")
	uids := map[string]int{}
	for len(uids) < 1500 {
		n := 1 + rng.IntN(10)
		var b strings.Builder
		for range n {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		if strings.TrimSpace(b.String()) == "" {
			continue
		}
		uids[b.String()] = len(uids)
	}
	// Adversarial neighbours: a uid that looks like another user's key text.
	for _, u := range []string{"x", "x:lk:x", ":lk:x", "lk:x", "*", "?", "[x]", "x*", "\\*"} {
		if _, ok := uids[u]; !ok {
			uids[u] = len(uids)
		}
	}
	for uid, pod := range uids {
		if _, err := e.SetLinkedPod(ctx, ns, uid, svc, pod, -1); err != nil {
			t.Fatalf("SetLinkedPod(%q): %v", uid, err)
		}
	}
	for uid, pod := range uids {
		got, err := e.GetLinkedPod(ctx, ns, uid, svc)
		if err != nil || got != pod {
			t.Fatalf("GetLinkedPod(%q) = %d, %v; want %d", uid, got, err, pod)
		}
		links, err := e.GetLinkService(ctx, ns, uid)
		if err != nil || len(links) != 1 || links[svc] != pod {
			t.Fatalf("GetLinkService(%q) = %v, %v; want {%s:%d}", uid, links, err, svc, pod)
		}
		raw, err := rdb.Get(ctx, linkKey(ns, uid, svc)).Result()
		if err != nil || raw != fmt.Sprint(pod) {
			t.Fatalf("raw key %q = %q, %v; want %d", linkKey(ns, uid, svc), raw, err, pod)
		}
	}
	if n, err := rdb.DBSize(ctx).Result(); err != nil || n != int64(2*len(uids)) {
		t.Errorf("DBSIZE = %d, %v; want %d (one hash and one link key per user)", n, err, 2*len(uids))
	}
	// Removing one user's link touches nobody else.
	if ok, err := e.RemoveLinkedPod(ctx, ns, "x*", svc, -1); err != nil || !ok {
		t.Fatalf("RemoveLinkedPod(x*) = %v, %v", ok, err)
	}
	for _, other := range []string{"x", "x:lk:x", "*", "\\*"} {
		if got, err := e.GetLinkedPod(ctx, ns, other, svc); err != nil || got != uids[other] {
			t.Errorf("after removing x*, GetLinkedPod(%q) = %d, %v; want %d", other, got, err, uids[other])
		}
	}
	t.Logf("%d generated uids stored and read back exactly", len(uids))
}
