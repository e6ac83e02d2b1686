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
// then the host and process facts, then the options, then OTEL_RESOURCE_ATTRIBUTES
// and OTEL_SERVICE_NAME, so an operator can rename or label a deployment
// without a rebuild.
//
// Process detection is limited to facts that carry no secrets: PID,
// executable name and Go runtime. Command-line arguments (which may hold
// passwords) and the owner's user name are left out.
func newResource(ctx context.Context, c config) (*resource.Resource, error) {
	attrs := c.resourceAttributes
	if c.serviceVersion != "" {
		attrs = append([]attribute.KeyValue{semconv.ServiceVersion(c.serviceVersion)}, attrs...)
	}
	if c.serviceName != "" {
		attrs = append([]attribute.KeyValue{semconv.ServiceName(c.serviceName)}, attrs...)
	}
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithService(),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithOSType(),
		resource.WithProcessPID(),
		resource.WithProcessExecutableName(),
		resource.WithProcessRuntimeName(),
		resource.WithProcessRuntimeVersion(),
		resource.WithProcessRuntimeDescription(),
		resource.WithAttributes(attrs...),
		resource.WithFromEnv(),
	)
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
