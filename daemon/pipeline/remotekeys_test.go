package pipeline

import "testing"

func TestCheckKeysURL(t *testing.T) {
	tests := []struct {
		name, url string
		ok        bool
	}{
		{"https", "https://id.example.com/jwks", true},
		{"http to 127.0.0.1", "http://127.0.0.1:8080/jwks", true},
		{"http to 127.1.2.3", "http://127.1.2.3/jwks", true},
		{"http to ::1", "http://[::1]:8080/jwks", true},
		{"http to localhost", "http://localhost/jwks", true},
		{"http to a name", "http://id.example.com/jwks", false},
		{"http to a private address", "http://10.0.0.1/jwks", false},
		{"http to a name starting with localhost", "http://localhost.example.com/jwks", false},
		{"another scheme", "ftp://id.example.com/jwks", false},
		{"no host", "https:///jwks", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckKeysURL(tc.url)
			if (err == nil) != tc.ok {
				t.Errorf("CheckKeysURL(%q): got %v, want ok=%v", tc.url, err, tc.ok)
			}
		})
	}
}
