package apitype

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// TestReasonsListsEveryReason holds Reasons to the Reason constants: each
// once, nothing else. The constants are read from the source, so a new one
// left out of the list fails here rather than going uncounted in metrics
// and unranked in precedence.
func TestReasonsListsEveryReason(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "reasons.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]bool{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Reason") {
					continue
				}
				s, err := strconv.Unquote(vs.Values[i].(*ast.BasicLit).Value)
				if err != nil {
					t.Fatalf("%s: %v", name.Name, err)
				}
				consts[s] = true
			}
		}
	}
	seen := map[string]bool{}
	for _, r := range Reasons {
		if seen[r] {
			t.Errorf("Reasons lists %q twice", r)
		}
		seen[r] = true
		if !consts[r] {
			t.Errorf("Reasons lists %q, which is no Reason constant", r)
		}
	}
	for r := range consts {
		if !seen[r] {
			t.Errorf("Reasons leaves out %q", r)
		}
	}
}
