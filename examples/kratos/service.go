package main

import (
	"context"

	"github.com/go-kratos/kratos/v2/errors"

	v1 "github.com/statefulroute/sfotel/examples/kratos/api/router/v1"
	"github.com/statefulroute/sfotel/examples/kratos/internal/conf"
	"github.com/statefulroute/sfotel/otelexec"
)

// ReasonNoLivePod is the router's own error: no pod of the service has sent
// a heartbeat within alive_within, so there is nowhere to send the user.
const ReasonNoLivePod = "NO_LIVE_POD"

// routerService implements the Router API over the executor. It returns the
// executor's errors as they are: sfkratos.Middleware, last in the server's
// middleware chain, turns them into Kratos errors (400 for a bad uid, 503
// when Redis is down, ...).
type routerService struct {
	v1.UnimplementedRouterServer

	exec *otelexec.Executor
	conf *conf.Router
}

func (s *routerService) service(name string) string {
	if name == "" {
		return s.conf.GetDefaultService()
	}
	return name
}

func (s *routerService) Login(ctx context.Context, in *v1.LoginRequest) (*v1.LoginReply, error) {
	pod, err := s.exec.ComputeLinkedPod(ctx, s.conf.GetNamespace(), in.GetUid(), s.service(in.GetService()),
		s.conf.GetAliveWithin().AsDuration(), otelexec.PersistForever)
	if err != nil {
		return nil, err
	}
	if pod < 0 {
		return nil, errors.ServiceUnavailable(ReasonNoLivePod, "no live pod for the service")
	}
	return &v1.LoginReply{Pod: int32(pod)}, nil
}

func (s *routerService) Lookup(ctx context.Context, in *v1.LookupRequest) (*v1.LookupReply, error) {
	pod, err := s.exec.GetLinkedPod(ctx, s.conf.GetNamespace(), in.GetUid(), s.service(in.GetService()))
	if err != nil {
		return nil, err
	}
	return &v1.LookupReply{Pod: int32(pod)}, nil
}

func (s *routerService) Logout(ctx context.Context, in *v1.LogoutRequest) (*v1.LogoutReply, error) {
	grace := int(in.GetGraceSeconds())
	if grace == 0 {
		grace = int(s.conf.GetLogoutGraceSeconds())
	}
	removed, err := s.exec.RemoveLinkedPod(ctx, s.conf.GetNamespace(), in.GetUid(), s.service(in.GetService()), grace)
	if err != nil {
		return nil, err
	}
	return &v1.LogoutReply{Removed: removed}, nil
}
