package daemon

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/revokd/revokd/client/apitype"
)

// TestNDJSONDecodesEveryField fills every field of each op's request struct,
// sends it as that op's line, and checks that decodeNDJSON hands the same
// struct on. A field added to a request struct is filled here by reflection
// too, so it is held to reaching its handler over NDJSON with no other code.
func TestNDJSONDecodesEveryField(t *testing.T) {
	tests := []struct {
		op  string
		req any // the request struct the op's HTTP route decodes
	}{
		{apitype.OpValidate, apitype.ValidateRequest{}},
		{apitype.OpRevoke, apitype.RevokeRequest{}},
		{apitype.OpRevokeAll, apitype.RevokeAllRequest{}},
		{apitype.OpUnban, apitype.UnbanRequest{}},
		{apitype.OpIssue, apitype.IssueRequest{}},
		{apitype.OpRefresh, apitype.RefreshRequest{}},
		{apitype.OpStatus, statusRequest{}},
	}
	for _, tc := range tests {
		t.Run(tc.op, func(t *testing.T) {
			want := filled(t, reflect.TypeOf(tc.req))
			line := ndjsonLineOf(t, tc.op, want)
			op, got, err := decodeNDJSON(line)
			if err != nil {
				t.Fatalf("decode %s: %v", line, err)
			}
			if op != tc.op {
				t.Errorf("op: got %q, want %q", op, tc.op)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decoded %s\ngot  %#v\nwant %#v", line, got, want)
			}
		})
	}
}

// ndjsonLineOf writes req's JSON members and "op" on one line.
func ndjsonLineOf(t *testing.T, op string, req any) []byte {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	members := map[string]json.RawMessage{}
	if err := json.Unmarshal(body, &members); err != nil {
		t.Fatal(err)
	}
	members["op"] = json.RawMessage(strconv.Quote(op))
	line, err := json.Marshal(members)
	if err != nil {
		t.Fatal(err)
	}
	return line
}

// filled returns a value of struct type typ with every field set to a
// distinct non-zero value. A field of a kind it does not know fails the
// test, so that a new field is never left zero, where a decoder dropping it
// would go unseen.
func filled(t *testing.T, typ reflect.Type) any {
	t.Helper()
	v := reflect.New(typ).Elem()
	for i := range typ.NumField() {
		f := v.Field(i)
		name := typ.Field(i).Name
		switch {
		case f.Kind() == reflect.String:
			f.SetString("v-" + name)
		case f.CanInt():
			f.SetInt(int64(1000 + i))
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.Type() == reflect.TypeFor[time.Time]():
			f.Set(reflect.ValueOf(time.Date(2027, 1, 2, 3, 4, 5, i*1000, time.UTC)))
		case f.Type() == reflect.TypeFor[map[string]string]():
			f.Set(reflect.ValueOf(map[string]string{"k-" + name: "v-" + name}))
		case f.Type() == reflect.TypeFor[map[string]json.RawMessage]():
			f.Set(reflect.ValueOf(map[string]json.RawMessage{"k-" + name: json.RawMessage(`["v-` + name + `"]`)}))
		case f.Type() == reflect.TypeFor[*time.Time]():
			at := time.Date(2027, 1, 2, 3, 4, 5, i*1000, time.UTC)
			f.Set(reflect.ValueOf(&at))
		default:
			t.Fatalf("%s.%s: teach filled to set a %s", typ.Name(), name, f.Type())
		}
		if f.IsZero() {
			t.Fatalf("%s.%s left zero", typ.Name(), name)
		}
	}
	return v.Interface()
}
