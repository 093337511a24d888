package pipeline_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/clocktest"
)

// vectorsDir is where the shared vectors live: CI clones the repository next
// to a copy of shared/, as the team's machines have it.
const vectorsDir = "../../../shared/vectors"

type vectorFile struct {
	About    string                   `json:"about"`
	Now      int64                    `json:"now"`
	Profiles map[string]vectorProfile `json:"profiles"`
	Vectors  []vector                 `json:"vectors"`
}

type vectorProfile struct {
	About                string   `json:"about"`
	HMACSecretFile       string   `json:"hmac_secret_file"`
	PublicKeyFiles       []string `json:"public_key_files"`
	JWKSFile             string   `json:"jwks_file"`
	Algorithms           []string `json:"algorithms"`
	Issuer               string   `json:"issuer"`
	Audience             string   `json:"audience"`
	SubjectClaim         string   `json:"subject_claim"`
	SessionStartClaim    string   `json:"session_start_claim"`
	CutoffClaims         []string `json:"cutoff_claims"`
	MaxSessionAgeSeconds int64    `json:"max_session_age_seconds"`
	LeewaySeconds        int64    `json:"leeway_seconds"`
	RequireJTI           bool     `json:"require_jti"`
	MaxTokenBytes        int      `json:"max_token_bytes"`
}

type vector struct {
	Name    string `json:"name"`
	Profile string `json:"profile"`
	Token   string `json:"token"`
	Note    string `json:"note"`
	Expect  struct {
		Active bool   `json:"active"`
		Reason string `json:"reason"`
		Sub    string `json:"sub"`
	} `json:"expect"`
}

// loadVectors reads the shared vectors strictly: a field this test does
// not know would be a setting it silently ignored.
func loadVectors(t testing.TB) vectorFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectorsDir, "vectors.json"))
	if err != nil {
		t.Fatalf("the shared vectors are missing: %v (expected the shared/ folder next to the repository, at %s)", err, vectorsDir)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var vf vectorFile
	if err := dec.Decode(&vf); err != nil {
		t.Fatalf("parse %s/vectors.json: %v", vectorsDir, err)
	}
	if len(vf.Vectors) == 0 {
		t.Fatalf("%s/vectors.json holds no vectors", vectorsDir)
	}
	return vf
}

// profileConfig turns a vector profile into a pipeline Config.
func profileConfig(t testing.TB, prof vectorProfile) pipeline.Config {
	t.Helper()
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(vectorsDir, name))
		if err != nil {
			t.Fatalf("read key file: %v", err)
		}
		return data
	}
	cfg := pipeline.Config{
		Algorithms:        prof.Algorithms,
		Issuer:            prof.Issuer,
		Audience:          prof.Audience,
		SubjectClaim:      prof.SubjectClaim,
		SessionStartClaim: prof.SessionStartClaim,
		CutoffClaims:      prof.CutoffClaims,
		MaxSessionAge:     time.Duration(prof.MaxSessionAgeSeconds) * time.Second,
		Leeway:            time.Duration(prof.LeewaySeconds) * time.Second,
		RequireJTI:        prof.RequireJTI,
		MaxTokenBytes:     prof.MaxTokenBytes,
	}
	if prof.HMACSecretFile != "" {
		cfg.HMACSecret = read(prof.HMACSecretFile)
	}
	for _, f := range prof.PublicKeyFiles {
		cfg.PublicKeyPEMs = append(cfg.PublicKeyPEMs, read(f))
	}
	if prof.JWKSFile != "" {
		cfg.JWKS = read(prof.JWKSFile)
	}
	return cfg
}

// TestConformance runs every shared vector with its profile's settings at
// the vectors' now, twice: once verified in full, once from the cache.
func TestConformance(t *testing.T) {
	vf := loadVectors(t)
	now := time.Unix(vf.Now, 0)
	pipes := map[string]*pipeline.Pipeline{}
	for name, prof := range vf.Profiles {
		cfg := profileConfig(t, prof)
		cfg.Clock = clocktest.New(now)
		cfg.Replica = cache.NewReplica(cfg.Clock, cfg.MaxSessionAge, cfg.Leeway)
		cfg.Replica.SetReady()
		p, err := pipeline.New(cfg)
		if err != nil {
			t.Fatalf("profile %s: New: %v", name, err)
		}
		t.Cleanup(p.Close)
		pipes[name] = p
	}
	for _, v := range vf.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			p := pipes[v.Profile]
			if p == nil {
				t.Fatalf("vector names profile %q, which the file does not define", v.Profile)
			}
			// The NDJSON path looks tokens up as bytes: it must agree, on a
			// miss and on a hit.
			for _, pass := range []string{"first", "again", "bytes"} {
				r := p.Validate(v.Token)
				if pass == "bytes" {
					r = p.ValidateBytes([]byte(v.Token))
				}
				if r.Active() != v.Expect.Active {
					t.Fatalf("%s pass: active = %v (reason %q), want %v", pass, r.Active(), r.Reason, v.Expect.Active)
				}
				if v.Expect.Reason != "" && r.Reason != v.Expect.Reason {
					t.Errorf("%s pass: reason = %q, want %q", pass, r.Reason, v.Expect.Reason)
				}
				if v.Expect.Sub != "" {
					if r.Token == nil || r.Token.Subject != v.Expect.Sub {
						t.Errorf("%s pass: sub = %q, want %q", pass, subjectOf(r), v.Expect.Sub)
					}
					if got := r.Response().Sub; got != v.Expect.Sub {
						t.Errorf("%s pass: response sub = %q, want %q", pass, got, v.Expect.Sub)
					}
				}
				p.WaitCache()
			}
		})
	}
}

func subjectOf(r pipeline.Result) string {
	if r.Token == nil {
		return "<no token>"
	}
	return r.Token.Subject
}
