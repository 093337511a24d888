package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/peterbourgon/ff/v3"
)

// envPrefix makes a setting flag readable from REVOKD_<FLAG_NAME>.
const envPrefix = "REVOKD"

// cmdFlags is a subcommand's flag set and its help text.
type cmdFlags struct {
	*flag.FlagSet
	name     string // "revokd serve"
	synopsis string // "[flags] TOKEN"
	about    string // a paragraph or more, printed above the flags
	// env names the flags also read from REVOKD_<FLAG_NAME>: the daemon's
	// settings and how to reach it, never what one call acts on. A
	// REVOKD_BEFORE left in a shell must not turn "revoke-all --sub x" into
	// a ban, so a flag is read from the environment only when marked.
	env map[string]bool
}

func newFlags(name, synopsis, about string) *cmdFlags {
	fs := flag.NewFlagSet("revokd "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors itself
	return &cmdFlags{FlagSet: fs, name: "revokd " + name, synopsis: synopsis, about: about, env: map[string]bool{}}
}

// fromEnv marks flags, already defined, as also read from the environment.
func (f *cmdFlags) fromEnv(names ...string) {
	for _, n := range names {
		if f.Lookup(n) == nil {
			panic("fromEnv: no flag " + n)
		}
		f.env[n] = true
	}
}

// envVar is the environment variable a flag is read from.
func envVar(flagName string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse parses args, then the REVOKD_ environment variables of the flags
// marked fromEnv and not given. It returns done=true with the exit code
// when the command must stop: after printing help (0) or a usage error (2).
func (f *cmdFlags) parse(args []string, stdout, stderr io.Writer) (code int, done bool) {
	err := ff.Parse(f.FlagSet, args)
	if err == nil {
		err = f.parseEnv()
	}
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		f.printHelp(stdout)
		return exitOK, true
	default:
		// ff prefixes "error parsing commandline arguments:" (or
		// "environment variables:"); the message under it is clearer alone.
		msg := err.Error()
		if u := errors.Unwrap(err); u != nil && strings.HasPrefix(msg, "error parsing ") {
			msg = u.Error()
		}
		// Flags are documented with two dashes (Go accepts both).
		msg = strings.NewReplacer("for flag -", "for flag --", "not defined: -", "not defined: --").Replace(msg)
		return f.usageError(stderr, "%s", msg), true
	}
}

// parseEnv sets the flags marked fromEnv that the command line did not give
// from their environment variables. ff reads every flag of the set it is
// given, so it is given a set holding only those flags (sharing their values).
func (f *cmdFlags) parseEnv() error {
	given := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	envSet := flag.NewFlagSet(f.name, flag.ContinueOnError)
	envSet.SetOutput(io.Discard)
	f.VisitAll(func(fl *flag.Flag) {
		if f.env[fl.Name] && !given[fl.Name] {
			envSet.Var(fl.Value, fl.Name, fl.Usage)
		}
	})
	return ff.Parse(envSet, nil, ff.WithEnvVarPrefix(envPrefix))
}

// usageError prints a usage error and returns exitUsage.
func (f *cmdFlags) usageError(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", f.name, fmt.Sprintf(format, a...), f.name)
	return exitUsage
}

func (f *cmdFlags) printHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s %s\n\n%s\n", f.name, f.synopsis, strings.TrimSpace(f.about))
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	if len(f.env) > 0 {
		fmt.Fprint(w, "\nFlags (one with [REVOKD_…] is also read from that environment variable when not given):\n")
	} else {
		fmt.Fprint(w, "\nFlags:\n")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	f.VisitAll(func(fl *flag.Flag) {
		kind, usage := flag.UnquoteUsage(fl)
		name := "--" + fl.Name
		if kind != "" && !isBool(fl) {
			name += " " + kind
		}
		def := ""
		if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" && fl.DefValue != "0s" && fl.DefValue != "[]" {
			def = fmt.Sprintf(" (default %s)", fl.DefValue)
		}
		env := ""
		if f.env[fl.Name] {
			env = " [" + envVar(fl.Name) + "]"
		}
		fmt.Fprintf(tw, "  %s\t%s%s%s\n", name, usage, def, env)
	})
	tw.Flush()
}

func isBool(fl *flag.Flag) bool {
	b, ok := fl.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// listFlag is a list of strings, given comma-separated, repeated, or both.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// replaceableList is a listFlag whose default is dropped by the first Set,
// so "--cutoff-claims sub" means just sub, not the default plus sub.
type replaceableList struct {
	list listFlag
	set  bool
}

func (r *replaceableList) String() string { return r.list.String() }

func (r *replaceableList) Set(s string) error {
	if !r.set {
		r.list, r.set = nil, true
	}
	return r.list.Set(s)
}

// claimsFlag is a set of required claim values, given as name=value,
// comma-separated (so REVOKD_REQUIRE_CLAIM can hold several, as the list
// flags' variables do), repeated, or both. A value cannot hold a comma.
type claimsFlag map[string]string

func (c *claimsFlag) String() string {
	s := make([]string, 0, len(*c))
	for name, value := range *c {
		s = append(s, name+"="+value)
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}

func (c *claimsFlag) Set(s string) error {
	for _, pair := range strings.Split(s, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		name, value, ok := strings.Cut(pair, "=")
		if !ok || name == "" {
			return fmt.Errorf("%q is not name=value", pair)
		}
		if old, dup := (*c)[name]; dup && old != value {
			return fmt.Errorf("claim %s required twice, as %q and %q", name, old, value)
		}
		if *c == nil {
			*c = claimsFlag{}
		}
		(*c)[name] = value
	}
	return nil
}

// idsFlag is a comma-separated list of numeric user or group ids.
type idsFlag []int

func (l *idsFlag) String() string {
	s := make([]string, len(*l))
	for i, id := range *l {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, ",")
}

func (l *idsFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		id, err := strconv.ParseUint(v, 10, 31)
		if err != nil {
			return fmt.Errorf("%q is not a numeric id", v)
		}
		*l = append(*l, int(id))
	}
	return nil
}

// modeFlag is a file mode written in octal, such as 0660.
type modeFlag os.FileMode

func (m *modeFlag) String() string { return fmt.Sprintf("%#o", uint32(*m)) }

func (m *modeFlag) Set(s string) error {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o777 {
		return fmt.Errorf("%q is not an octal permission such as 0660", s)
	}
	*m = modeFlag(v)
	return nil
}

// oneOfFlag is a string restricted to a few values.
type oneOfFlag struct {
	value   string
	allowed []string
}

func (o *oneOfFlag) String() string { return o.value }

func (o *oneOfFlag) Set(s string) error {
	for _, a := range o.allowed {
		if strings.EqualFold(s, a) {
			o.value = a
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", s, strings.Join(o.allowed, ", "))
}
