package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// decodeRequest decodes a request body (an HTTP body, or an NDJSON line)
// into a Req, the one way both framings do. A body that does not decode
// gets requestDecodeError's message, the same by either framing.
func decodeRequest[Req any](b []byte) (Req, error) {
	var req Req
	if err := json.Unmarshal(b, &req); err != nil {
		return req, requestDecodeError(b, reflect.TypeFor[Req](), err)
	}
	return req, nil
}

// requestDecodeError turns err, from decoding body into a value of type t,
// into a bad request whose message speaks of the API's members and values,
// not of Go's structs, types or time layouts: `"token" must be a string`,
// `"before" must be an RFC 3339 time such as 2030-01-01T00:00:00Z`, or
// `body is not valid JSON: … (at byte N)`.
//
// Not every decoding error names its member (time.Time's own UnmarshalJSON
// reports a bare parse error), so the member at fault is found by decoding
// the body's members one at a time into their fields, in the body's order.
func requestDecodeError(body []byte, t reflect.Type, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return badRequest("body is not valid JSON: %s (at byte %d)", strings.TrimPrefix(syn.Error(), "json: "), syn.Offset)
	}
	if name, ft, ok := badMember(body, t); ok {
		return badRequest("%q must be %s", name, describeType(ft))
	}
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) && ute.Field == "" {
		return badRequest("body must be %s, not %s", describeType(t), ute.Value)
	}
	return badRequest("body does not decode as a request") // the cause stays in Go's words: not the client's
}

// badMember finds the first member of the JSON object body whose value does
// not decode into the field of struct type t that it names. It returns the
// member's name as the field spells it, and the field's type.
func badMember(body []byte, t reflect.Type) (string, reflect.Type, bool) {
	if t.Kind() != reflect.Struct {
		return "", nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", nil, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", nil, false
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return "", nil, false
		}
		name, ft, ok := fieldFor(t, key)
		if !ok {
			continue // an unknown member is ignored, as encoding/json ignores it
		}
		if err := json.Unmarshal(raw, reflect.New(ft).Interface()); err != nil {
			return name, ft, true
		}
	}
	return "", nil, false
}

// fieldFor finds the field of struct type t that the JSON member key
// decodes into (encoding/json matches names without regard to case),
// returning its JSON name and type.
func fieldFor(t reflect.Type, key string) (string, reflect.Type, bool) {
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if strings.EqualFold(name, key) {
			return name, f.Type, true
		}
	}
	return "", nil, false
}

var (
	timeType   = reflect.TypeFor[time.Time]()
	objectType = reflect.TypeFor[map[string]json.RawMessage]() // any JSON object, as issue's "claims"
)

// describeType names what a JSON value must be to decode into t.
func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case timeType:
		return "an RFC 3339 time such as 2030-01-01T00:00:00Z"
	case objectType:
		return "a JSON object"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Map:
		return fmt.Sprintf("an object whose values are %s", plural(describeType(t.Elem())))
	case reflect.Slice, reflect.Array:
		return fmt.Sprintf("an array of %s", plural(describeType(t.Elem())))
	case reflect.Struct:
		return "a JSON object"
	}
	return "a JSON value of another kind"
}

// plural turns "a string" into "strings", for the element of a collection.
func plural(s string) string {
	for _, a := range []string{"a ", "an "} {
		if rest, ok := strings.CutPrefix(s, a); ok && !strings.Contains(rest, " ") {
			return rest + "s"
		}
	}
	return s
}
