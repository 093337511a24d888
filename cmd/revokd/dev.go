package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/client"
)

// devSecretFile is the HS256 key --dev makes, inside the dev directory.
const devSecretFile = "hs256.secret"

// devMode is what --dev set up: a key it can sign a sample token with.
type devMode struct {
	dir     string
	secret  []byte
	keyFile string
	opts    *serveOptions
}

// setUpDev fills in what --dev leaves unconfigured: a data directory, an
// HS256 key kept in it across runs, and a socket path this user can create.
func setUpDev(o *serveOptions, log *slog.Logger) (*devMode, error) {
	dir := o.dataDir
	if dir == "" {
		var err error
		if dir, err = devDir(log); err != nil {
			return nil, err
		}
		o.dataDir = dir
	} else if err := ensureDir(dir); err != nil {
		return nil, err
	}
	if o.hmacSecretFile == "" {
		o.hmacSecretFile = filepath.Join(dir, devSecretFile)
		if err := ensureSecret(o.hmacSecretFile); err != nil {
			return nil, err
		}
	}
	secret, err := os.ReadFile(o.hmacSecretFile)
	if err != nil {
		return nil, fmt.Errorf("read HMAC secret: %w", err)
	}
	if o.socket == "" {
		o.socket = client.DefaultSocket()
		if !canCreateIn(filepath.Dir(o.socket)) {
			o.socket = filepath.Join(dir, "revokd.sock")
		}
	}
	log.Warn("DEVELOPMENT mode: a key made for this machine, a sample token on stdout; do not use in production",
		"dev_dir", dir, "hmac_secret_file", o.hmacSecretFile)
	return &devMode{dir: dir, secret: secret, keyFile: o.hmacSecretFile, opts: o}, nil
}

// devDir creates and returns --dev's directory when --data-dir is not
// given: under $XDG_STATE_HOME or the home directory, else, when there is no
// home or it cannot be written (HOME set to a read-only place, a file, a
// directory that is gone), revokd-dev-<uid> in the temp directory, as
// serve's help promises.
func devDir(log *slog.Logger) (string, error) {
	dir, err := defaultDataDir("revokd-dev")
	if err == nil {
		if err = ensureDir(dir); err == nil {
			return dir, nil
		}
	}
	tmp := filepath.Join(os.TempDir(), fmt.Sprintf("revokd-dev-%d", os.Getuid()))
	if err := ensureDir(tmp); err != nil {
		return "", err
	}
	// The temp directory is shared: use a directory someone else made
	// there (to plant a key, or read ours) only if it is ours.
	if err := ownedBySelf(tmp); err != nil {
		return "", err
	}
	log.Warn("no usable home for the dev directory; using the temp directory", "tried", dir, "err", err, "dev_dir", tmp)
	return tmp, nil
}

// ownedBySelf returns an error unless dir is a directory (not a symlink)
// owned by this process's user.
func ownedBySelf(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("dev directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() {
		return fmt.Errorf("dev directory %s is not a directory owned by uid %d; remove it, or give --data-dir", dir, os.Getuid())
	}
	return nil
}

// ensureSecret creates a random HS256 secret at path unless one is there:
// 32 random bytes, hex-encoded so it can be pasted into another tool.
func ensureSecret(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil // kept from an earlier run
	}
	if err != nil {
		return fmt.Errorf("create dev key: %w", err)
	}
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand)
	if _, err := f.WriteString(hex.EncodeToString(key)); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write dev key: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write dev key: %w", err)
	}
	return nil
}

// canCreateIn reports whether this process can create the socket directory
// dir (or a socket in it).
func canCreateIn(dir string) bool {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false
	}
	return syscall.Access(dir, 2 /* W_OK */) == nil
}

// sampleToken signs a token shaped as revokd expects: subject, session id,
// token id, issue time and original issue time, valid for an hour.
func (d *devMode) sampleToken(now time.Time) (string, error) {
	o := d.opts
	claims := jwt.MapClaims{
		o.subjectClaim: "dev-user",
		"sid":          "dev-" + randomHex(6),
		"jti":          randomHex(12),
		"iat":          now.Unix(),
		"exp":          now.Add(time.Hour).Unix(),
	}
	claims[o.sessionStartClaim] = now.Unix()
	if o.issuer != "" {
		claims["iss"] = o.issuer
	}
	if o.audience != "" {
		claims["aud"] = o.audience
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(d.secret)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// printWelcome prints the socket, a sample token and the commands to try it.
func (d *devMode) printWelcome(w io.Writer, socket string) {
	token, err := d.sampleToken(time.Now())
	if err != nil {
		fmt.Fprintf(w, "revokd --dev: cannot sign a sample token: %v\n", err)
		return
	}
	sock := shellQuote(socket)
	curl := func(path, body string) string {
		return fmt.Sprintf("curl -s --unix-socket %s http://revokd%s -d '%s'", sock, path, body)
	}
	body := fmt.Sprintf(`{"token":"%s"}`, token)
	store := filepath.Join(d.dir, storeFile)
	if d.opts.databaseURL != "" {
		store = "PostgreSQL (--database-url)"
	}
	cli, note := cliCommand(exePath(), exec.LookPath)
	if socket != client.DefaultSocket() {
		cli = "REVOKD_SOCKET=" + sock + " " + cli
	}
	if note != "" {
		note = "\n" + note + "\n\n"
	}
	fmt.Fprintf(w, `
revokd is running in DEVELOPMENT mode.

  socket:      %s
  HS256 key:   %s (the file's bytes are the secret)
  store:       %s

A sample token (subject "dev-user", valid for one hour):

%s

Validate it (answers "active":true):

  %s

Revoke it:

  %s

Validate it again (now "active":false, "reason":"revoked"):

  %s

The same over NDJSON, the framing the CLI speaks (exits 1: inactive):

  %s validate %s

Or by hand, one JSON request per line (needs socat):

  printf '{"op":"validate","token":"%s"}\n' | socat - UNIX-CONNECT:%s

More: %s revoke-all --sub dev-user, %s status, %s help.
%sPress Ctrl-C to stop.

`, socket, d.keyFile, store, token,
		curl("/v1/validate", body), curl("/v1/revoke", body), curl("/v1/validate", body),
		cli, token, token, sock, cli, cli, cli, note)
}

// exePath is the running binary's path, symlinks resolved, or "" if unknown.
func exePath() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return exe
}

// cliCommand returns how the welcome text should spell "revokd" so its
// commands run this build from the user's shell, and a note to print when
// that is not plain "revokd". lookPath is exec.LookPath.
//
// "revokd" is right only when it finds this very binary on PATH. After the
// quick start's "go run ./cmd/revokd serve --dev" the binary is in a
// go-build temp directory that go run deletes on exit, and "revokd" on PATH
// is missing or some other build: "go run ./cmd/revokd" is what works. A
// binary run by its path (bin/revokd from make build) is named by its path.
func cliCommand(exe string, lookPath func(string) (string, error)) (cli, note string) {
	if onPath, err := lookPath("revokd"); err == nil && exe != "" && sameFile(onPath, exe) {
		return "revokd", ""
	}
	slashed := filepath.ToSlash(exe)
	switch {
	case exe == "" || strings.Contains(slashed, "/go-build") && filepath.Base(filepath.Dir(exe)) == "exe":
		return "go run ./cmd/revokd", "These run the CLI with go run, from the repository's root directory: there is\n" +
			"no revokd on your PATH, or it is another build. 'go install ./cmd/revokd' puts\n" +
			"one there (in $(go env GOPATH)/bin); 'make build' makes bin/revokd."
	default:
		return shellQuote(exe), "These name this binary by its path: 'revokd' on your PATH is not this build."
	}
}

// sameFile reports whether paths a and b are the same file.
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
