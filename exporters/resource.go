package exporters

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// newResource describes the process to every backend. Later sources win:
// SDK defaults (service.name=unknown_service:<exe>, service.instance.id),
// host and process facts, the options, then OTEL_RESOURCE_ATTRIBUTES and
// OTEL_SERVICE_NAME, so an operator can relabel a deployment without a
// rebuild. Process facts that may hold secrets (command-line arguments,
// the owner's name) are left out.
func newResource(ctx context.Context, c config) (*resource.Resource, error) {
	var attrs []attribute.KeyValue
	if c.serviceName != "" {
		attrs = append(attrs, semconv.ServiceName(c.serviceName))
	}
	if c.serviceVersion != "" {
		attrs = append(attrs, semconv.ServiceVersion(c.serviceVersion))
	}
	res, err := resource.New(ctx, resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithService(), resource.WithTelemetrySDK(), resource.WithHost(), resource.WithOSType(),
		resource.WithProcessPID(), resource.WithProcessExecutableName(), resource.WithProcessRuntimeName(),
		resource.WithProcessRuntimeVersion(), resource.WithProcessRuntimeDescription(),
		resource.WithAttributes(append(attrs, c.resourceAttributes...)...), resource.WithFromEnv())
	if err != nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES or an undetectable host is
		// no reason to run without telemetry: keep what was detected.
		if res == nil || !errors.Is(err, resource.ErrPartialResource) {
			return nil, fmt.Errorf("exporters: resource: %w", err)
		}
		c.logger.Warn("sfotel: resource partly detected", "error", err)
	}
	return res, nil
}
