package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// runKeys is `revokd-bench keys`: mint keys for `run` and print the flags
// that make revokd trust them.
func runKeys(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory to write the keys into")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("keys: --dir is required")
	}
	k, err := MintKeys()
	if err != nil {
		return err
	}
	files, err := k.WriteDir(*dir)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, strings.Join(files.ServeArgs(), " "))
	return nil
}
