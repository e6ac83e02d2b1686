package reliability

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

type silentLogger struct{}

func (silentLogger) Printf(context.Context, string, ...any) {}

// TestMain silences go-redis's own log: the fault tests make its pool log
// every refused dial, thousands of lines that hide the test output.
func TestMain(m *testing.M) {
	redis.SetLogger(silentLogger{})
	os.Exit(m.Run())
}
