// Package diagnose holds the ground-truth suite of the report's diagnosis:
// a routing workload on a real redis-server with one cause injected for
// real per scenario, the report built over the injected window, its first
// finding compared with the injected cause, and each knob the report
// advises applied and measured. It is test code only (run by
// scripts/diagnose.sh, `make diagnose`); docs/report.md holds its scores.
package diagnose
