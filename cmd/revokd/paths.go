package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// defaultDataDir is where the embedded store lives when --data-dir is not
// given. name is "revokd", or "revokd-dev" for --dev.
//
// systemd's StateDirectory= sets $STATE_DIRECTORY (a colon-separated list;
// the first entry is ours). Root gets the FHS location. Anyone else gets the
// XDG state directory, so a developer's daemon needs no privileges.
func defaultDataDir(name string) (string, error) {
	if sd := os.Getenv("STATE_DIRECTORY"); sd != "" && name == "revokd" {
		first, _, _ := strings.Cut(sd, ":")
		return first, nil
	}
	if os.Geteuid() == 0 && name == "revokd" {
		return "/var/lib/revokd", nil
	}
	if x := os.Getenv("XDG_STATE_HOME"); x != "" {
		return filepath.Join(x, name), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no --data-dir given and no home directory to put one in: %w", err)
	}
	return filepath.Join(home, ".local", "state", name), nil
}

// ensureDir creates dir, private to its owner, if missing.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	return nil
}
