package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
)

// ErrNoBinaries means no PostgreSQL server binaries were found. Its message
// says what to install, because a test run must fail rather than skip.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, postgres) not found in PATH or /usr/lib/postgresql/*/bin: " +
	"install Debian's postgresql-15 (apt-get install postgresql-15), or set REVOKD_PG_BIN to the directory holding them")

// findBinaries returns the directory holding initdb and postgres:
// $REVOKD_PG_BIN, then the directory initdb resolves to from PATH (Debian
// only puts wrappers in PATH, so the real directory is found through the
// symlink), then the newest /usr/lib/postgresql/*/bin.
func findBinaries() (string, error) {
	var candidates []string
	if dir := os.Getenv("REVOKD_PG_BIN"); dir != "" {
		candidates = append(candidates, dir)
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, filepath.Dir(real))
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return majorVersion(dirs[i]) > majorVersion(dirs[j]) })
	candidates = append(candidates, dirs...)
	for _, dir := range candidates {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", ErrNoBinaries
}

// majorVersion reads 15 from /usr/lib/postgresql/15/bin; 0 when it can't.
func majorVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// checkBinaries reports ErrNoBinaries with the directories searched.
func checkBinaries() (string, error) {
	dir, err := findBinaries()
	if err != nil {
		return "", fmt.Errorf("pgcluster: %w", err)
	}
	return dir, nil
}
