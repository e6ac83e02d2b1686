package redisinstr

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// maxQueryText bounds db.query.text: a pipeline of a thousand commands
// must not put a megabyte on one span.
const maxQueryText = 1024

// queryMode is what db.query.text holds.
type queryMode uint8

const (
	queryOff       queryMode = iota
	querySanitized           // the command names, each argument a "?"
	queryRaw                 // the full text, keys and values included
)

// text is the commands as redis-cli would show them, one per line, cut
// after maxQueryText bytes.
func (m queryMode) text(cmds []redis.Cmder) string {
	var b strings.Builder
all:
	for k, c := range cmds {
		if k > 0 {
			b.WriteByte('\n')
		}
		for j, a := range c.Args() {
			if b.Len() > maxQueryText {
				break all
			}
			if j > 0 {
				b.WriteByte(' ')
				if m == querySanitized {
					a = "?"
				}
			}
			switch v := a.(type) {
			case string:
				b.WriteString(v)
			case []byte:
				b.Write(v)
			default:
				fmt.Fprint(&b, v)
			}
		}
	}
	if s := b.String(); len(s) > maxQueryText {
		return s[:maxQueryText] + "…"
	}
	return b.String()
}

// callerAttrs are code.function.name, code.file.path and code.line.number
// of the first frame outside go-redis, this package and the executor.
func callerAttrs() []attribute.KeyValue {
	var pcs [32]uintptr
	n := runtime.Callers(3, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if !strings.Contains(f.Function, "github.com/redis/go-redis/") &&
			!strings.Contains(f.Function, "github.com/statefulroute/sfotel/redisinstr.") &&
			!strings.Contains(f.Function, "github.com/statefulroute/sfotel/otelexec.") {
			return []attribute.KeyValue{
				semconv.CodeFunctionName(f.Function),
				semconv.CodeFilePath(f.File),
				semconv.CodeLineNumber(f.Line),
			}
		}
		if !more {
			return nil
		}
	}
}
