package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"text/tabwriter"
)

// Exit codes. validate also exits 1 for an inactive token.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and failed (daemon down, socket in use, ...)
	exitUsage = 2 // bad flags or arguments: nothing was done
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise it comes from the module's build info.
var version = ""

func revokdVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// stdin is where "-" reads tokens from; tests replace it.
var stdin io.Reader = os.Stdin

// command is one subcommand. run gets the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands is every subcommand, in the order help lists them. It is filled
// in init because help refers to it.
var commands []command

func init() {
	commands = []command{
		{"serve", "run the daemon on a Unix socket", runServe},
		{"validate", "check a token: exit 0 active, 1 inactive, 2 error", runValidate},
		{"revoke", "deny one token (by token, or by --jti and --exp)", runRevoke},
		{"revoke-all", "revoke every token of a subject or claim value, or ban it until --before", runRevokeAll},
		{"unban", "lift a ban: lower a future cutoff to now", runUnban},
		{"status", "print the daemon's status as JSON", runStatus},
		{"healthcheck", "exit 0 only when the daemon is ready", runHealthcheck},
		{"migrate", "create or update the PostgreSQL schema", runMigrate},
		{"version", "print the version", runVersion},
		{"help", "show help for a command", runHelp},
	}
}

// run executes the command line args (without the program name) and
// returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "revokd: unknown command %q\nRun 'revokd help' for the list of commands.\n", name)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `revokd answers "is this JWT good right now?" over a Unix socket, and
keeps the revocations (logout, logout everywhere, bans) that decide it.

Usage:
  revokd <command> [flags] [arguments]

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, `
Try it:  revokd serve --dev
Settings can also come from the environment: REVOKD_ and the flag name in
upper case with - turned into _ (--socket is REVOKD_SOCKET). That is every
flag of serve, and --socket, --timeout and --database-url of the others;
what a command acts on (--sub, --before, --jti, a token, ...) is only ever
read from its command line. 'revokd <command> --help' marks which are which.
Run 'revokd help <command>' or 'revokd <command> --help' for its flags.
`)
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("version", "", "Prints the version of this revokd binary (set at build time, else from\nthe module's build information).")
	if code, done := f.parse(args, stdout, stderr); done {
		return code
	}
	if f.NArg() > 0 {
		return f.usageError(stderr, "takes no arguments")
	}
	fmt.Fprintf(stdout, "revokd %s\n", revokdVersion())
	return exitOK
}

func runHelp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("help", "[COMMAND]", "Without COMMAND, lists the commands. With one, prints its help, the same as\n'revokd COMMAND --help'.")
	if code, done := f.parse(args, stdout, stderr); done {
		return code
	}
	args = f.Args()
	switch {
	case len(args) == 0:
		usage(stdout)
		return exitOK
	case len(args) > 1:
		return f.usageError(stderr, "give at most one command")
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, []string{"--help"}, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "revokd help: unknown command %q\n", args[0])
	return exitUsage
}
