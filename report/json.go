package report

import (
	"encoding/json"
	"io"
)

// WriteJSON writes r as indented JSON, the schema in docs/report.md.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // messages are read by people; JSON stays valid
	return enc.Encode(r)
}
