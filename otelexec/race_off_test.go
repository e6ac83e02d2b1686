//go:build !race

package otelexec

const raceEnabled = false
