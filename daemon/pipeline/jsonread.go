package pipeline

import (
	"bytes"
	"encoding/json"
	"io"
)

// readObject is how headers and payloads are split into members. It is a
// variable only while splitObject and decodeObject are measured against
// each other (BenchmarkReadObject, BenchmarkMiss); one of them will go.
var readObject = splitObject

// decodeObject is splitObject through encoding/json's decoder: members in
// order, repeats kept, names read as encoding/json reads a map key, values
// raw; null is an empty object and anything after the object is an error.
func decodeObject(b []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, errJSON
	}
	var fields []field
	switch tok {
	case nil:
	case json.Delim('{'):
		for dec.More() {
			tok, err := dec.Token()
			name, ok := tok.(string)
			if err != nil || !ok {
				return nil, errJSON
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, errJSON
			}
			fields = append(fields, field{name: []byte(name), value: v})
		}
		if _, err := dec.Token(); err != nil {
			return nil, errJSON
		}
	default:
		return nil, errJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errJSON
	}
	return fields, nil
}
