// Package contract is sfotel's telemetry contract, defined once: the
// instrumentation scopes, every instrument (name, kind, unit, description,
// buckets, attribute keys) with a typed constructor, the executor's
// operations, the fixed attribute keys and values, and the one error
// classifier with its vocabulary.
//
// The executor and redisinstr create their instruments through the
// constructors here, the report finds them by these names in these scopes,
// and docs/telemetry.md is checked against the definitions, so a name, a
// unit or an error class cannot mean one thing in one package and another
// elsewhere. docs/design.md says how to add an operation or an instrument.
package contract
