package reliability

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
)

type silentLogger struct{}

func (silentLogger) Printf(context.Context, string, ...any) {}

// TestMain silences go-redis's own log and the OTel global error handler:
// the fault tests make go-redis log every refused dial and the SDK log every
// cancelled export, thousands of lines that hide the test output and break
// benchmark lines apart. The tests assert on counters instead.
func TestMain(m *testing.M) {
	redis.SetLogger(silentLogger{})
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	os.Exit(m.Run())
}
