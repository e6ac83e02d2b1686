package contract

// Op is one executor operation. Its name is the executor's method name and
// serves as the span name, as the operation metric attribute and as the
// report's row. Every per-operation table is indexed by Op and built from
// opNames, so adding an operation is one constant, one entry and its method.
type Op uint8

const (
	OpSetServiceState Op = iota
	OpGetServiceState
	OpSetWorkloadState
	OpGetWorkloadState
	OpGetWorkloadStateBatch
	OpSetLinkedPod
	OpTrySetLinkedPod
	OpSetLinkedPodIfAbsent
	OpGetLinkedPod
	OpGetLinkedPodIfPersist
	OpBatchGetLinkedPod
	OpRemoveLinkedPod
	OpRemoveLinkedPodWithID
	OpGetLinkService
	OpComputeLinkedPod
	OpLoadScripts
	NumOps
)

var opNames = [NumOps]string{
	OpSetServiceState:       "SetServiceState",
	OpGetServiceState:       "GetServiceState",
	OpSetWorkloadState:      "SetWorkloadState",
	OpGetWorkloadState:      "GetWorkloadState",
	OpGetWorkloadStateBatch: "GetWorkloadStateBatch",
	OpSetLinkedPod:          "SetLinkedPod",
	OpTrySetLinkedPod:       "TrySetLinkedPod",
	OpSetLinkedPodIfAbsent:  "SetLinkedPodIfAbsent",
	OpGetLinkedPod:          "GetLinkedPod",
	OpGetLinkedPodIfPersist: "GetLinkedPodIfPersist",
	OpBatchGetLinkedPod:     "BatchGetLinkedPod",
	OpRemoveLinkedPod:       "RemoveLinkedPod",
	OpRemoveLinkedPodWithID: "RemoveLinkedPodWithID",
	OpGetLinkService:        "GetLinkService",
	OpComputeLinkedPod:      "ComputeLinkedPod",
	OpLoadScripts:           "LoadScripts",
}

// String returns the operation's name.
func (o Op) String() string { return opNames[o] }

// Operations returns every operation name, in Op order.
func Operations() []string { return append([]string(nil), opNames[:]...) }
