package main

// target is the (claim, value) pair that revoke-all and unban act on:
// --sub, or --claim with --value, and the issuer it is scoped to (--iss).
type target struct {
	sub, claim, value, iss string
}

func (t *target) register(f *cmdFlags) {
	f.StringVar(&t.sub, "sub", "", "the subject `value` (the subject claim, whatever --subject-claim the daemon uses)")
	f.StringVar(&t.claim, "claim", "", "another cutoff claim's `name`, such as sid (with --value)")
	f.StringVar(&t.value, "value", "", "with --claim: the claim's `value`")
	f.StringVar(&t.iss, "iss", "", "with a daemon that trusts several issuers: only the value at this `issuer` (default: at every issuer)")
}

// check returns what is wrong with the flags, or "".
func (t *target) check() string {
	switch {
	case t.sub != "" && (t.claim != "" || t.value != ""):
		return "give either --sub, or --claim and --value, not both"
	case t.sub != "":
		return ""
	case t.claim == "" && t.value == "":
		return "give --sub, or --claim and --value"
	case t.claim == "":
		return "--value needs --claim"
	case t.value == "":
		return "--claim needs --value"
	}
	return ""
}
