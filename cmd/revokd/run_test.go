package main

import (
	"strings"
	"testing"
)

func TestRunDispatch(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{name: "no arguments", args: nil, wantCode: exitUsage, wantStderr: "Commands:"},
		{name: "help", args: []string{"help"}, wantCode: exitOK, wantStdout: "revoke-all"},
		{name: "--help", args: []string{"--help"}, wantCode: exitOK, wantStdout: "healthcheck"},
		{name: "version", args: []string{"version"}, wantCode: exitOK, wantStdout: "revokd "},
		{name: "--version", args: []string{"--version"}, wantCode: exitOK, wantStdout: "revokd "},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: exitUsage, wantStderr: `unknown command "frobnicate"`},
		{name: "help for a command", args: []string{"help", "serve"}, wantCode: exitOK, wantStdout: "--hmac-secret-file"},
		{name: "help version", args: []string{"help", "version"}, wantCode: exitOK, wantStdout: "Usage: revokd version"},
		{name: "help help", args: []string{"help", "help"}, wantCode: exitOK, wantStdout: "Usage: revokd help"},
		{name: "version --help", args: []string{"version", "--help"}, wantCode: exitOK, wantStdout: "Usage: revokd version"},
		{name: "version -h", args: []string{"version", "-h"}, wantCode: exitOK, wantStdout: "Usage: revokd version"},
		{name: "help --help", args: []string{"help", "--help"}, wantCode: exitOK, wantStdout: "Usage: revokd help"},
		{name: "version with an argument", args: []string{"version", "x"}, wantCode: exitUsage, wantStderr: "takes no arguments"},
		{name: "help with two commands", args: []string{"help", "serve", "status"}, wantCode: exitUsage, wantStderr: "give at most one command"},
		{name: "help for an unknown command", args: []string{"help", "nope"}, wantCode: exitUsage, wantStderr: `unknown command "nope"`},
		{name: "unknown flag", args: []string{"status", "--bogus"}, wantCode: exitUsage, wantStderr: "flag provided but not defined: --bogus"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tc.wantStdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout, tc.wantStdout)
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tc.wantStderr)
			}
		})
	}
}

// Every command has help, and each that talks to the daemon or is the
// daemon names the environment variables of its settings.
func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, c.name, "--help")
			if code != exitOK {
				t.Fatalf("exit code = %d, want 0; stderr: %s", code, stderr)
			}
			if !strings.HasPrefix(stdout, "Usage: revokd "+c.name) {
				t.Errorf("help starts %q, want the usage line", firstLine(stdout))
			}
			if c.name == "help" || c.name == "version" {
				return // they take no flags
			}
			if !strings.Contains(stdout, "[REVOKD_") {
				t.Errorf("help names no environment variable:\n%s", stdout)
			}
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
