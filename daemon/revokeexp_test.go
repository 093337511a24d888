package daemon

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/revokd/revokd/client/apitype"
)

// A revoke by bare jti names its own expiry, so one outside 1970–9999 is
// the caller's mistake: a 400 that says what is wrong, in both framings,
// never a denial clamped to 9999 nor a complaint that "exp" is missing.
func TestRevokeByJTIExpOutOfRange(t *testing.T) {
	ts := startServer(t, Config{})
	hc := httpClient(t, ts.path)
	nc := dialNDJSON(t, ts.path)
	for _, body := range []string{
		`{"jti":"x","exp":1000000000000000}`,
		`{"jti":"x","exp":-5}`,
	} {
		resp, err := hc.Post("http://revokd/v1/revoke", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var httpErr apitype.ErrorResponse
		json.NewDecoder(resp.Body).Decode(&httpErr)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(httpErr.Error.Message, "is not a time a store keeps") {
			t.Errorf("HTTP %s: status %d, message %q; want 400 saying the exp is out of range", body, resp.StatusCode, httpErr.Error.Message)
		}
		var ndErr apitype.ErrorResponse
		line := nc.roundTrip(`{"op":"revoke",` + body[1:])
		if err := json.Unmarshal([]byte(line), &ndErr); err != nil || ndErr.Error.Message != httpErr.Error.Message {
			t.Errorf("NDJSON %s: %q; want the HTTP answer's message %q", body, line, httpErr.Error.Message)
		}
	}
}
