package v1

import "fmt"

// The requests carry uids, which must never reach a log line. Kratos'
// logging middleware prints a request with Redact when it has one, and
// its recovery middleware with %+v, which Format answers; both print the
// service and leave the uid out.

func (x *LoginRequest) Redact() string  { return fmt.Sprintf("{service:%q}", x.GetService()) }
func (x *LookupRequest) Redact() string { return fmt.Sprintf("{service:%q}", x.GetService()) }
func (x *LogoutRequest) Redact() string {
	return fmt.Sprintf("{service:%q grace_seconds:%d}", x.GetService(), x.GetGraceSeconds())
}

func (x *LoginRequest) Format(f fmt.State, _ rune)  { fmt.Fprint(f, x.Redact()) }
func (x *LookupRequest) Format(f fmt.State, _ rune) { fmt.Fprint(f, x.Redact()) }
func (x *LogoutRequest) Format(f fmt.State, _ rune) { fmt.Fprint(f, x.Redact()) }
