package apitype

// NDJSON ops. Each names the HTTP route whose request body the rest of the
// line holds.
const (
	OpValidate  = "validate"   // POST /v1/validate
	OpRevoke    = "revoke"     // POST /v1/revoke
	OpRevokeAll = "revoke-all" // POST /v1/revoke-all
	OpUnban     = "unban"      // POST /v1/unban
	OpStatus    = "status"     // GET /v1/status
)

// NDJSONOp is the member every NDJSON request line carries next to the fields of
// its op's request body. The daemon reads it first, then decodes the whole
// line into that op's request struct. A sender embeds both, so the fields
// sit side by side on the line:
//
//	struct {
//		apitype.NDJSONOp
//		apitype.RevokeRequest
//	}{apitype.NDJSONOp{Op: apitype.OpRevoke}, apitype.RevokeRequest{Token: token}}
type NDJSONOp struct {
	Op string `json:"op"` // one of the Op constants
}

// NDJSON ops of the token service, on a daemon with a signing key.
const (
	OpIssue   = "issue"   // POST /v1/issue
	OpRefresh = "refresh" // POST /v1/refresh
)
