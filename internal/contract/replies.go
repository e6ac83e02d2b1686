package contract

import "strings"

// Reply is the code of a Redis error reply (its first word: WRONGTYPE,
// NOSCRIPT, ERR...), db.response.status_code of the semantic conventions,
// from a fixed table: a Lua script can reply any word, which must not grow
// the number of series.
type Reply uint8

// NoReply: the error is no server reply. ReplyOther: a reply whose code is
// not in the table.
const (
	NoReply Reply = iota
	ReplyOther
)

// replyCodes are the codes Redis and Redis Cluster reply, from the Redis
// source; index k is Reply k.
var replyCodes = [...]string{
	NoReply: "", ReplyOther: "_OTHER",
	"ERR", "WRONGTYPE", "NOSCRIPT", "OOM", "NOAUTH", "NOPERM", "WRONGPASS",
	"READONLY", "LOADING", "BUSY", "BUSYKEY", "BUSYGROUP", "NOTBUSY",
	"UNKILLABLE", "MASTERDOWN", "MISCONF", "NOREPLICAS", "EXECABORT",
	"NOGROUP", "NOPROTO", "CLUSTERDOWN", "TRYAGAIN", "CROSSSLOT", "MOVED",
	"ASK", "UNBLOCKED",
}

// NumReplies is the number of Reply values.
const NumReplies = Reply(len(replyCodes))

var replyIndex = func() map[string]Reply {
	m := make(map[string]Reply, len(replyCodes))
	for k, code := range replyCodes[ReplyOther+1:] {
		m[code] = ReplyOther + 1 + Reply(k)
	}
	return m
}()

// String returns the code, "_OTHER" for a code outside the table, "" for
// NoReply.
func (r Reply) String() string { return replyCodes[r] }

// replyCode looks up the first word of a reply.
func replyCode(reply string) Reply {
	code, _, _ := strings.Cut(reply, " ")
	if r, ok := replyIndex[code]; ok {
		return r
	}
	return ReplyOther
}

// DBErrorType is error.type on the db.* instruments and command spans: the
// reply's code when the server replied an error, as the conventions ask,
// else the class.
func DBErrorType(class ErrorType, reply Reply) string {
	if reply != NoReply {
		return reply.String()
	}
	return class.String()
}
