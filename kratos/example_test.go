package sfkratos_test

import (
	"context"
	"fmt"

	"github.com/go-kratos/kratos/v2/errors"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc/status"

	sfkratos "github.com/statefulroute/sfotel/kratos"
	"github.com/statefulroute/sfotel/otelexec"
)

// Error maps an executor error to a Kratos error; over gRPC it becomes the
// status Kratos derives from the HTTP code.
func ExampleError() {
	exec, _ := otelexec.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"}))
	_, err := exec.GetLinkedPod(context.Background(), "prod", "bad{uid}", "match")

	ke := errors.FromError(sfkratos.Error(err))
	fmt.Println(ke.Code, ke.Reason, ke.Metadata[sfkratos.MetadataField])
	fmt.Println(ke.Message)
	fmt.Println(status.Code(ke))
	// Output:
	// 400 STATEFUL_EXECUTOR_INVALID_ARGUMENT uid
	// otelexec: invalid uid: contains '{'
	// InvalidArgument
}
