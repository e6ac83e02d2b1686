package otelexec

import (
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/statefulroute/sfotel/internal/luascript"
	"github.com/statefulroute/sfotel/internal/redistest"
)

// podIDCase is one row of testdata/podids.json.
type podIDCase struct {
	Value *string `json:"value"`
	Hex   string  `json:"hex"`
	Pod   int     `json:"pod"`
}

func (c podIDCase) text(t testing.TB) string {
	if c.Value != nil {
		return *c.Value
	}
	b, err := hex.DecodeString(c.Hex)
	if err != nil {
		t.Fatalf("testdata/podids.json: hex %q: %v", c.Hex, err)
	}
	return string(b)
}

// podIDTable reads testdata/podids.json: the one table of stored pod IDs.
func podIDTable(t testing.TB) []podIDCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/podids.json")
	if err != nil {
		t.Fatal(err)
	}
	var table struct{ Values []podIDCase }
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Values) < 40 {
		t.Fatalf("testdata/podids.json has only %d values", len(table.Values))
	}
	return table.Values
}

// luaPodIDs runs the prelude's sf_pod on each value through EVAL on the
// real Redis and returns what it answered, -1 for nil.
func luaPodIDs(t testing.TB, values []string) []int {
	t.Helper()
	const body = `
local out = {}
for i, v in ipairs(ARGV) do
  out[i] = sf_pod(v) or -1
end
return out`
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	rdb := redistest.Client(t)
	reply, err := rdb.Eval(testContext(t), luascript.Source(luascript.Prelude)+body, nil, args...).Result()
	if err != nil {
		t.Fatal(err)
	}
	list, ok := reply.([]any)
	if !ok || len(list) != len(values) {
		t.Fatalf("EVAL replied %#v for %d values", reply, len(values))
	}
	out := make([]int, len(list))
	for i, v := range list {
		n, ok := v.(int64)
		if !ok {
			t.Fatalf("sf_pod(%q) replied %#v", values[i], v)
		}
		out[i] = int(n)
	}
	return out
}

// TestPodIDTable: Go's parsePodID and Lua's sf_pod, the one definition of a
// stored pod ID on each side, give the table's answer for every value.
func TestPodIDTable(t *testing.T) {
	cases := podIDTable(t)
	values := make([]string, len(cases))
	for i, c := range cases {
		values[i] = c.text(t)
	}
	lua := luaPodIDs(t, values)
	for i, c := range cases {
		got, err := parsePodID(values[i])
		if err != nil {
			got = -1
		}
		if got != c.Pod {
			t.Errorf("Go parsePodID(%q) = %d, the table says %d", values[i], got, c.Pod)
		}
		if lua[i] != c.Pod {
			t.Errorf("Lua sf_pod(%q) = %d, the table says %d", values[i], lua[i], c.Pod)
		}
	}
}

// TestPodIDLuaAgreesWithGo: beyond the table, Go and Lua agree on
// thousands of random values built from the characters that trip number
// parsers (digits, signs, dots, exponents, hex prefixes, spaces). The seed
// is logged.
func TestPodIDLuaAgreesWithGo(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	const alphabet = "0123456789000111999+-.eExX \t_,"
	values := make([]string, 0, 3000)
	for range cap(values) {
		b := make([]byte, 1+r.IntN(12))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		values = append(values, string(b))
	}
	for range 500 { // numbers near the bounds, canonical and not
		n := r.Int64N(1 << 33)
		values = append(values, strconv.FormatInt(n, 10), "0"+strconv.FormatInt(n, 10), strconv.FormatInt(2147483647-r.Int64N(3)+r.Int64N(3), 10))
	}
	for lo := 0; lo < len(values); lo += 1000 {
		part := values[lo:min(lo+1000, len(values))]
		lua := luaPodIDs(t, part)
		for i, v := range part {
			got, err := parsePodID(v)
			if err != nil {
				got = -1
			}
			if got != lua[i] || got != int(canonicalPodID(v)) {
				t.Errorf("%q: Go %d, Lua %d, definition %d", v, got, lua[i], canonicalPodID(v))
			}
		}
	}
}
