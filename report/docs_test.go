package report

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const docPath = "../docs/report.md"

// schemaFields walks the JSON encoding of t and returns each field's path
// (operations[].p50_seconds) and the JSON type the doc must state.
func schemaFields(t reflect.Type, prefix string, out map[string]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := prefix + name
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		out[path] = jsonType(ft)
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]():
			schemaFields(ft, path+".", out)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			schemaFields(ft.Elem(), path+"[].", out)
		}
	}
}

func jsonType(t reflect.Type) string {
	if t == reflect.TypeFor[time.Time]() {
		return "string (RFC 3339)"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "integer"
	case reflect.Float64, reflect.Float32:
		return "number"
	case reflect.Slice:
		return "array"
	}
	return "object" // structs and maps
}

// docFields reads the field table of docs/report.md: path → type column.
func docFields(t *testing.T, doc string) map[string]string {
	_, table, ok := strings.Cut(doc, "### Fields\n")
	if !ok {
		t.Fatalf("%s has no ### Fields section", docPath)
	}
	table, _, _ = strings.Cut(table, "\n### ")
	fields := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 5 {
			t.Fatalf("short table row %q", line)
		}
		path := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if _, dup := fields[path]; dup {
			t.Errorf("%s documents %s twice", docPath, path)
		}
		fields[path] = strings.TrimSpace(cells[2])
	}
	return fields
}

func TestDocsFieldTableMatchesReport(t *testing.T) {
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	want := map[string]string{}
	schemaFields(reflect.TypeFor[Report](), "", want)
	got := docFields(t, doc)
	// A row whose type reads "object, as `other.path`" documents its
	// fields by reference: X.f is documented if other.path.f is.
	lookup := func(path string) (string, bool) {
		if typ, ok := got[path]; ok {
			return typ, true
		}
		for prefix, typ := range got {
			_, ref, ok := strings.Cut(typ, "as `")
			rest, found := strings.CutPrefix(path, prefix)
			rest = strings.TrimPrefix(rest, "[]") // an array of such objects
			if !ok || !found || !strings.HasPrefix(rest, ".") {
				continue
			}
			ref, _, _ = strings.Cut(ref, "`")
			if typ, ok := got[ref+rest]; ok {
				return typ, true
			}
		}
		return "", false
	}
	for _, path := range sortedKeys(want) {
		typ, ok := lookup(path)
		switch {
		case !ok:
			t.Errorf("%s: field %s (%s) is not documented", docPath, path, want[path])
		case !strings.HasPrefix(typ, want[path]):
			t.Errorf("%s: field %s documented as %q, the JSON type is %s", docPath, path, typ, want[path])
		}
	}
	for _, path := range sortedKeys(got) {
		if _, ok := want[path]; !ok {
			t.Errorf("%s documents %s, which Report does not have", docPath, path)
		}
	}
}

func TestDocsExampleDecodesStrictly(t *testing.T) {
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	_, example, ok := strings.Cut(string(raw), "```json\n")
	if !ok {
		t.Fatalf("%s has no JSON example", docPath)
	}
	example, _, _ = strings.Cut(example, "```")
	dec := json.NewDecoder(strings.NewReader(example))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("the example in %s does not decode into Report: %v", docPath, err)
	}
	// Every field of the schema appears in the example.
	var generic map[string]any
	if err := json.Unmarshal([]byte(example), &generic); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(v any, prefix string)
	walk = func(v any, prefix string) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				seen[prefix+k] = true
				if prefix+k != "operations[].errors_by_type" && prefix+k != "suggestions[].evidence" {
					walk(e, prefix+k+".")
				}
			}
		case []any:
			for _, e := range v {
				walk(e, strings.TrimSuffix(prefix, ".")+"[].")
			}
		}
	}
	walk(generic, "")
	want := map[string]string{}
	schemaFields(reflect.TypeFor[Report](), "", want)
	// A field shared through "as `X`" rows is shown if any object of that
	// shape shows it (a pool's name appears on per-pool entries only).
	aliases := map[string][]string{} // X → the rows documented as X
	for row, typ := range docFields(t, string(raw)) {
		if _, ref, ok := strings.Cut(typ, "as `"); ok {
			ref, _, _ = strings.Cut(ref, "`")
			aliases[ref] = append(aliases[ref], row)
		}
	}
	var shown func(path string) bool
	shown = func(path string) bool {
		if seen[path] {
			return true
		}
		for ref, rows := range aliases {
			for _, row := range rows { // X.f is shown where row.f is
				for _, sep := range []string{".", "[]."} {
					if rest, ok := strings.CutPrefix(path, row+sep); ok && shown(ref+"."+rest) {
						return true
					}
				}
			}
			rest, ok := strings.CutPrefix(path, ref+".")
			if !ok {
				continue
			}
			for _, row := range rows {
				if seen[row+"."+rest] || seen[row+"[]."+rest] {
					return true
				}
			}
		}
		return false
	}
	var missing []string
	for path := range want {
		if !shown(path) {
			missing = append(missing, path)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("the example in %s lacks %v", docPath, missing)
	}
	// And the golden report round-trips through the same type.
	var buf bytes.Buffer
	if err := goldenReport(t).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	dec = json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&Report{}); err != nil {
		t.Fatal(err)
	}
}
