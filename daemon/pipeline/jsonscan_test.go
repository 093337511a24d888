package pipeline

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

// splitMap reads splitObject's members the way encoding/json reads an
// object into a map: the last of repeated names wins.
func splitMap(fields []field) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	for _, f := range fields {
		m[string(f.name)] = f.value
	}
	return m
}

func TestSplitObject(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string // nil means an error
	}{
		{"empty", `{}`, map[string]string{}},
		{"spaces", " { \"a\" : 1 , \"b\":\"x\" } ", map[string]string{"a": "1", "b": `"x"`}},
		{"nested", `{"a":{"b":[1,{"c":"}]"}]},"d":[]}`, map[string]string{"a": `{"b":[1,{"c":"}]"}]}`, "d": "[]"}},
		{"escaped quote in string", `{"a":"x\"y","b":true}`, map[string]string{"a": `"x\"y"`, "b": "true"}},
		{"escaped name", `{"s\u0075b":"alice"}`, map[string]string{"sub": `"alice"`}},
		{"repeated name", `{"sub":"a","sub":"b"}`, map[string]string{"sub": `"b"`}},
		{"null value", `{"sid":null}`, map[string]string{"sid": "null"}},
		{"not an object", `[1]`, nil},
		{"unterminated", `{"a":1`, nil},
		{"trailing data", `{"a":1}x`, nil},
		{"missing colon", `{"a" 1}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fields, err := splitObject([]byte(tc.in))
			if tc.want == nil {
				if err == nil {
					t.Fatalf("splitObject(%s) = %v, want an error", tc.in, fields)
				}
				return
			}
			if err != nil {
				t.Fatalf("splitObject(%s): %v", tc.in, err)
			}
			got := splitMap(fields)
			if len(got) != len(tc.want) {
				t.Fatalf("splitObject(%s) has %d members, want %d", tc.in, len(got), len(tc.want))
			}
			for k, v := range tc.want {
				if string(got[k]) != v {
					t.Errorf("member %q = %s, want %s", k, got[k], v)
				}
			}
		})
	}
}

// FuzzSplitObject holds splitObject to encoding/json: on every input that
// encoding/json reads as an object, both must find the same members with the
// same raw values, and decodeObject the same members in the same order,
// repeats included. On other input it may do anything but panic.
func FuzzSplitObject(f *testing.F) {
	for _, s := range []string{`{}`, `null`, `{"a":1}`, `{"a":{"b":[1,"]"]},"c":"\"}"}`,
		`{"\u0073ub":7,"sub":8}`, "{\"\xff\":1}", `{"a":-1.5e3 }`, `[]`, `{"a":}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fields, err := splitObject(data)
		var want map[string]json.RawMessage
		if json.Unmarshal(data, &want) != nil {
			return
		}
		if err != nil {
			t.Fatalf("splitObject(%q): %v; encoding/json reads it", data, err)
		}
		got := splitMap(fields)
		if len(got) != len(want) {
			t.Fatalf("splitObject(%q): %d members, encoding/json %d", data, len(got), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("splitObject(%q): member %q = %q, encoding/json %q", data, k, got[k], v)
			}
		}
		all, err := decodeObject(data)
		if err != nil {
			t.Fatalf("decodeObject(%q): %v; json.Unmarshal reads it", data, err)
		}
		if len(all) != len(fields) {
			t.Fatalf("splitObject(%q): %d members, encoding/json's decoder %d", data, len(fields), len(all))
		}
		for i, f := range all {
			if !bytes.Equal(fields[i].name, f.name) || !bytes.Equal(fields[i].value, f.value) {
				t.Fatalf("splitObject(%q): member %d is %q: %q, encoding/json's decoder %q: %q",
					data, i, fields[i].name, fields[i].value, f.name, f.value)
			}
		}
	})
}

// decodeObject is splitObject done with encoding/json's decoder: members
// in order, repeats kept, names read as encoding/json reads a map key,
// values raw. It is the reference FuzzSplitObject holds splitObject to, and
// the yardstick BenchmarkReadObject measures it against.
func decodeObject(b []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, errJSON
	}
	var fields []field
	switch tok {
	case nil: // null reads as an empty object
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

// BenchmarkReadObject reads BenchmarkValidate's header and payload alone,
// with splitObject and with decodeObject (BENCHMARKS.md, "Reading claims by
// hand"). Run it alternating, one reader per process, on a noisy machine.
func BenchmarkReadObject(b *testing.B) {
	header := []byte(`{"alg":"HS256","typ":"JWT"}`)
	payload := []byte(`{"aud":"revokd","exp":1800003600,"iat":1800000000,"iss":"https://issuer.example","jti":"j-1","name":"Ana","orig_iat":1799996400,"roles":["reader","writer"],"sid":"s-1","sub":"user-42"}`)
	for _, r := range []struct {
		name string
		read func([]byte) ([]field, error)
	}{{"splitObject", splitObject}, {"encoding-json", decodeObject}} {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.read(header); err != nil {
					b.Fatal(err)
				}
				if _, err := r.read(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
