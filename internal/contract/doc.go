// Package contract holds the names that several sfotel packages must agree on:
// operation names, instrument names and the fixed attribute keys and values of
// the telemetry contract in DESIGN.md.
//
// The executor records with these names, the redisinstr package observes with
// them, and the report package finds instruments by them, whichever meter
// recorded them. Keeping them in one place is what keeps the Prometheus names
// that dashboards rely on from drifting.
package contract
