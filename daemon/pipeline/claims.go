package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// payload is a token's claims as golang-jwt decodes them. It keeps the
// payload's bytes (the answer echoes them as "claims") and each top-level
// value unparsed, so only the claims revokd reads are ever decoded, and
// numbers are read from their literal text: never through float64, which
// would round a 20-digit subject and blur fractional issue times.
type payload struct {
	raw    []byte
	fields []field // in payload order; a repeated name's last value wins, as in encoding/json
}

// field is one top-level member of the payload, its value as raw JSON.
type field struct {
	name, value []byte
}

var _ jwt.Claims = (*payload)(nil)

// UnmarshalJSON keeps a copy of b (golang-jwt's decoder reuses its buffer)
// and splits it into top-level claims. A payload that is not an object is
// malformed.
func (c *payload) UnmarshalJSON(b []byte) error {
	c.raw = bytes.Clone(b)
	fields, err := splitObject(c.raw)
	if err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	c.fields = fields
	return nil
}

// registeredClaims are the claims revokd reads. With the configured subject,
// session-start and cutoff claims, a payload may hold each of them once: of
// two values, encoding/json keeps the last and other readers the first, so
// the app behind revokd could see a different subject, expiry or session
// than revokd checked (and the echoed claims would carry both).
var registeredClaims = []string{"exp", "nbf", "iat", "iss", "aud", "sub", "jti", "sid", "orig_iat"}

var errDuplicate = errors.New("claim given more than once")

// duplicate returns an error naming the first claim in unique that the
// payload holds more than once.
func (c *payload) duplicate(unique map[string]bool) error {
	for i, f := range c.fields {
		for _, g := range c.fields[i+1:] {
			if bytes.Equal(f.name, g.name) && unique[string(f.name)] {
				return fmt.Errorf("claim %q: %w", f.name, errDuplicate)
			}
		}
	}
	return nil
}

// get returns a claim's raw JSON; absent and null are the same.
func (c *payload) get(name string) (json.RawMessage, bool) {
	for i := len(c.fields) - 1; i >= 0; i-- {
		if string(c.fields[i].name) == name {
			v := c.fields[i].value
			return v, string(v) != "null"
		}
	}
	return nil, false
}

// micros reads a NumericDate claim as Unix microseconds. Finer digits are
// dropped.
func (c *payload) micros(name string) (int64, bool, error) {
	v, ok := c.get(name)
	if !ok {
		return 0, false, nil
	}
	m, err := numberMicros(v)
	if err != nil {
		return 0, false, fmt.Errorf("claim %s: %w", name, err)
	}
	return m, true, nil
}

// date reads a NumericDate claim at golang-jwt's precision (whole seconds),
// which is the precision it checks exp and nbf at.
func (c *payload) date(name string) (*jwt.NumericDate, error) {
	m, ok, err := c.micros(name)
	if !ok || err != nil {
		return nil, err
	}
	return jwt.NewNumericDate(time.UnixMicro(m)), nil
}

func (c *payload) GetExpirationTime() (*jwt.NumericDate, error) { return c.date("exp") }
func (c *payload) GetNotBefore() (*jwt.NumericDate, error)      { return c.date("nbf") }
func (c *payload) GetIssuedAt() (*jwt.NumericDate, error)       { return c.date("iat") }
func (c *payload) GetIssuer() (string, error)                   { return c.str("iss") }
func (c *payload) GetSubject() (string, error)                  { return c.str("sub") }

func (c *payload) GetAudience() (jwt.ClaimStrings, error) {
	v, ok := c.get("aud")
	if !ok {
		return nil, nil
	}
	if v[0] == '"' { // the common case, without encoding/json's any
		s, err := unquote(v)
		if err != nil {
			return nil, fmt.Errorf("claim aud: %w", jwt.ErrInvalidType)
		}
		return jwt.ClaimStrings{s}, nil
	}
	var aud jwt.ClaimStrings
	if err := aud.UnmarshalJSON(v); err != nil {
		return nil, fmt.Errorf("claim aud: %w", jwt.ErrInvalidType)
	}
	return aud, nil
}

func (c *payload) str(name string) (string, error) {
	v, ok := c.get(name)
	if !ok {
		return "", nil
	}
	if v[0] != '"' {
		return "", fmt.Errorf("claim %s: %w", name, jwt.ErrInvalidType)
	}
	s, err := unquote(v)
	if err != nil {
		return "", fmt.Errorf("claim %s: %w", name, err)
	}
	return s, nil
}

// value reads a claim that identifies something (subject, jti, sid, other
// cutoff claims): a string as is, a number as its canonical decimal text.
// Absent, null and "" are all "not present". Any other type is an error:
// such a claim could never match a cutoff, and failing open on it would be
// wrong.
func (c *payload) value(name string) (string, bool, error) {
	v, ok := c.get(name)
	if !ok {
		return "", false, nil
	}
	var s string
	switch {
	case v[0] == '"':
		var err error
		if s, err = unquote(v); err != nil {
			return "", false, fmt.Errorf("claim %s: %w", name, err)
		}
	case v[0] == '-' || ('0' <= v[0] && v[0] <= '9'):
		var err error
		if s, err = canonicalNumber(v); err != nil {
			return "", false, fmt.Errorf("claim %s: %w", name, err)
		}
	default:
		return "", false, fmt.Errorf("claim %s: %w", name, jwt.ErrInvalidType)
	}
	return s, s != "", nil
}

// decimal is a JSON number literal split into sign, significant digits and
// a power of ten: value = ±digits × 10^exp.
type decimal struct {
	neg    bool
	digits string // no leading zeros; "" means zero
	exp    int
}

var errNumber = errors.New("not a usable number")

// maxExp bounds exponents so "1e999999999" cannot make us build a
// gigabyte of zeros.
const maxExp = 64

func parseDecimal(lit []byte) (decimal, error) {
	s := string(lit)
	var d decimal
	if strings.HasPrefix(s, "-") {
		d.neg, s = true, s[1:]
	}
	mant, expPart, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart == "" || !allDigits(intPart) || !allDigits(frac) {
		return decimal{}, errNumber
	}
	if hasExp {
		e, err := strconv.Atoi(expPart)
		if err != nil || e > maxExp || e < -maxExp {
			return decimal{}, errNumber
		}
		d.exp = e
	}
	d.exp -= len(frac)
	d.digits = strings.TrimLeft(intPart+frac, "0")
	// Trailing zeros are a power of ten, not significant digits.
	for len(d.digits) > 0 && d.digits[len(d.digits)-1] == '0' {
		d.digits = d.digits[:len(d.digits)-1]
		d.exp++
	}
	if d.digits == "" {
		d.neg, d.exp = false, 0
	}
	return d, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// canonicalNumber writes a number the way a decimal string of it would be
// written: 7, 7.0 and 0.7e1 are all "7"; 12345678901234567890 keeps every
// digit; 1.50 is "1.5".
func canonicalNumber(lit []byte) (string, error) {
	if allDigits(string(lit)) && (len(lit) == 1 || lit[0] != '0') {
		return string(lit), nil // the common case: a plain non-negative integer
	}
	d, err := parseDecimal(lit)
	if err != nil {
		return "", err
	}
	if d.digits == "" {
		return "0", nil
	}
	var b strings.Builder
	if d.neg {
		b.WriteByte('-')
	}
	switch {
	case d.exp >= 0:
		b.WriteString(d.digits)
		b.WriteString(strings.Repeat("0", d.exp))
	case -d.exp < len(d.digits):
		point := len(d.digits) + d.exp
		b.WriteString(d.digits[:point])
		b.WriteByte('.')
		b.WriteString(d.digits[point:])
	default:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -d.exp-len(d.digits)))
		b.WriteString(d.digits)
	}
	return b.String(), nil
}

// numberMicros reads a NumericDate (seconds since the epoch, possibly
// fractional) as microseconds, dropping finer digits. Times beyond what an
// int64 of microseconds holds (about 292,000 years) are errors.
func numberMicros(lit []byte) (int64, error) {
	if len(lit) == 0 || (lit[0] != '-' && (lit[0] < '0' || lit[0] > '9')) {
		return 0, jwt.ErrInvalidType
	}
	if len(lit) <= 12 && allDigits(string(lit)) { // whole seconds until the year 33658
		var sec int64
		for _, c := range lit {
			sec = sec*10 + int64(c-'0')
		}
		return sec * 1e6, nil
	}
	d, err := parseDecimal(lit)
	if err != nil {
		return 0, err
	}
	digits, shift := d.digits, d.exp+6
	if shift < 0 {
		if -shift >= len(digits) {
			return 0, nil
		}
		digits, shift = digits[:len(digits)+shift], 0
	}
	if len(digits)+shift > 19 { // int64 holds 19 digits at most; ParseInt catches the rest
		return 0, errNumber
	}
	m, err := strconv.ParseInt(digits+strings.Repeat("0", shift), 10, 64)
	if err != nil {
		return 0, errNumber
	}
	if d.neg {
		m = -m
	}
	return m, nil
}
