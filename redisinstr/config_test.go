package redisinstr

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"go.opentelemetry.io/otel"
)

func TestConfigDefaultsAndNilProviders(t *testing.T) {
	c := newConfig([]Option{WithMeterProvider(nil), WithTracerProvider(nil), nil})
	if c.meterProvider != otel.GetMeterProvider() || c.tracerProvider != otel.GetTracerProvider() {
		t.Error("nil providers replaced the global ones")
	}
	if !c.commandMetrics || c.commandSpans || c.callerInfo || c.queryText != queryOff {
		t.Errorf("defaults: metrics %v spans %v caller %v statement %v; want metrics only",
			c.commandMetrics, c.commandSpans, c.callerInfo, c.queryText)
	}
	if c.probeInterval != 5*time.Second || c.probeTimeout != time.Second {
		t.Errorf("probe interval %v timeout %v, want 5s and 1s", c.probeInterval, c.probeTimeout)
	}
	// A timeout longer than the interval is refused, not clamped.
	c = newConfig([]Option{WithProbeInterval(100 * time.Millisecond), WithProbeTimeout(time.Second)})
	rdb := redis.NewClient(&redis.Options{})
	defer rdb.Close()
	if err := c.validate(rdb); err == nil || !strings.Contains(err.Error(), "WithProbeTimeout") {
		t.Errorf("a probe timeout longer than the interval: %v, want an error naming WithProbeTimeout", err)
	}
}
