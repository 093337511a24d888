package pipeline

import "testing"

// TestCanonicalNumber checks that numeric claim values become the decimal
// string a cutoff would be written with, without passing through float64.
func TestCanonicalNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"7", "7"},
		{"0", "0"},
		{"-0", "0"},
		{"12345678901234567890", "12345678901234567890"},
		{"123456789012345678901234567890", "123456789012345678901234567890"},
		{"7.0", "7"},
		{"7.50", "7.5"},
		{"0.7e1", "7"},
		{"1e3", "1000"},
		{"1E+3", "1000"},
		{"-42", "-42"},
		{"0.001", "0.001"},
		{"1.5e-3", "0.0015"},
		{"12.345", "12.345"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := canonicalNumber([]byte(tc.in))
			if err != nil || got != tc.want {
				t.Fatalf("canonicalNumber(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"1e99999", "1e65", "1.2.3", "--1"} {
		if got, err := canonicalNumber([]byte(bad)); err == nil {
			t.Errorf("canonicalNumber(%s) = %q, want an error", bad, got)
		}
	}
}

// TestNumberMicros checks NumericDate parsing at microsecond precision.
func TestNumberMicros(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"1800000000", 1800000000_000000},
		{"1800000000.25", 1800000000_250000},
		{"1800000000.123456", 1800000000_123456},
		{"1800000000.1234569", 1800000000_123456}, // finer digits dropped
		{"1.8e9", 1800000000_000000},
		{"0", 0},
		{"0.0000001", 0},
		{"-1.5", -1_500000},
		{"9000000000000", 9000000000000_000000},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := numberMicros([]byte(tc.in))
			if err != nil || got != tc.want {
				t.Fatalf("numberMicros(%s) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{`"1800000000"`, "true", "1e300", "10000000000000", "{}"} {
		if got, err := numberMicros([]byte(bad)); err == nil {
			t.Errorf("numberMicros(%s) = %d, want an error", bad, got)
		}
	}
}
