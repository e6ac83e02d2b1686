//go:build race

package reliability

// raceEnabled is true when the tests run under -race, which makes every
// operation about ten times slower: the longest loads shrink to stay within
// the package's time budget (docs/reliability.md says by how much).
const raceEnabled = true
