package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/statefulroute/sfotel/internal/contract"
)

func TestInvalidOptionsAreConstructorErrors(t *testing.T) {
	for _, c := range []struct {
		opt  Option
		want string
	}{
		{WithClock(nil), "report: WithClock: clock must not be nil"},
		{WithErrorRateThreshold(0), "report: WithErrorRateThreshold: t must be in (0, 1], got 0"},
		{WithErrorRateThreshold(-1), "report: WithErrorRateThreshold: t must be in (0, 1], got -1"},
		{WithErrorRateThreshold(1.5), "report: WithErrorRateThreshold: t must be in (0, 1], got 1.5"},
		{WithTailRatioThreshold(1), "report: WithTailRatioThreshold: r must be > 1, got 1"},
		{WithTailRatioThreshold(-3), "report: WithTailRatioThreshold: r must be > 1, got -3"},
		{WithMinSamples(0), "report: WithMinSamples: n must be > 0, got 0"},
		{WithWarmup(-time.Second), "report: WithWarmup: d must be ≥ 0, got -1s"},
		{WithPoolUtilizationThreshold(0), "report: WithPoolUtilizationThreshold: u must be in (0, 1], got 0"},
		{WithPoolUtilizationThreshold(1.01), "report: WithPoolUtilizationThreshold: u must be in (0, 1], got 1.01"},
		{WithBatchHint(0, 0.1), "report: WithBatchHint: rate must be > 0, got 0"},
		{WithBatchHint(10, -1), "report: WithBatchHint: share must be > 0, got -1"},
		{WithTailFloor(0), "report: WithTailFloor: d must be > 0, got 0s"},
		{WithRoundTripThreshold(-time.Millisecond), "report: WithRoundTripThreshold: d must be > 0, got -1ms"},
		{WithEmbeddedRedis(""), "report: WithEmbeddedRedis: server must name the embedded server"},
	} {
		c2, err := NewCollector(nil, c.opt)
		if err == nil || err.Error() != c.want || c2 != nil {
			t.Errorf("got (%v, %v), want (nil, %q)", c2, err, c.want)
		}
	}
	// Every invalid value is named, not only the first.
	_, err := NewCollector(WithMinSamples(0), WithWarmup(-1))
	if err == nil || !strings.Contains(err.Error(), "WithMinSamples") || !strings.Contains(err.Error(), "WithWarmup") {
		t.Fatalf("two invalid options: %v", err)
	}
}

func TestOptionsApply(t *testing.T) {
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c, err := newConfig([]Option{
		nil,
		WithClock(func() time.Time { return fixed }),
		WithErrorRateThreshold(0.05), WithTailRatioThreshold(4), WithMinSamples(7), WithWarmup(0),
		WithPoolUtilizationThreshold(1), WithBatchHint(50, 0.2),
		WithTailFloor(time.Millisecond), WithRoundTripThreshold(2 * time.Millisecond), WithEmbeddedRedis("miniredis"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !c.now().Equal(fixed) || c.rules.ErrorRate != 0.05 || c.rules.TailRatio != 4 || c.rules.MinSamples != 7 ||
		c.warmup != 0 || c.rules.PoolUtilization != 1 || c.rules.BatchHintRate != 50 || c.rules.BatchHintShare != 0.2 ||
		c.rules.TailFloor != time.Millisecond.Seconds() || c.rules.RoundTrip != (2*time.Millisecond).Seconds() || c.embeddedRedis != "miniredis" {
		t.Fatalf("options not applied: %+v", c)
	}
}

// An embedded server's latencies are its own: the report says so, and an
// operation without calls shows a dash, not 0s, in text and HTML.
func TestEmbeddedRedisAndIdleOperations(t *testing.T) {
	f := newFixture(t, WithEmbeddedRedis("miniredis"))
	f.count(contract.MetricOperations, 0, attribute.String(contract.AttrOperation, contract.OpGetLinkedPod.String()), attribute.String(contract.AttrStatus, contract.StatusOK))
	r := f.snapshot()
	if r.Redis.Embedded != "miniredis" {
		t.Fatalf("redis.embedded %q", r.Redis.Embedded)
	}
	var text, page bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "html": page.String()} {
		if !strings.Contains(out, "embedded miniredis, an in-process stand-in: its latencies are not Redis&#39;s") &&
			!strings.Contains(out, "embedded miniredis, an in-process stand-in: its latencies are not Redis's") {
			t.Fatalf("%s does not say the Redis is embedded:\n%s", name, out)
		}
	}
	for _, line := range strings.Split(text.String(), "\n") {
		if strings.HasPrefix(line, contract.OpGetLinkedPod.String()) && (strings.Contains(line, "0s") || !strings.Contains(line, " -")) {
			t.Fatalf("text row of an operation without calls: %q", line)
		}
	}
	if !strings.Contains(page.String(), `<td class="n">-</td>`) || strings.Contains(page.String(), `<td class="n">0s</td>`) {
		t.Fatal("HTML row of an operation without calls shows no dash")
	}
}
