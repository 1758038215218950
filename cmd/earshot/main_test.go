package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasHelpAndExamples: `earshot help COMMAND` shows what it does and at least one
// example, for every command a user can run.
func TestEveryCommandHasHelpAndExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" || sub.Hidden {
				continue
			}
			walk(sub)
		}
		if !c.Runnable() || c.Parent() == nil {
			return
		}
		n++
		if c.Short == "" {
			t.Errorf("%s has no short help", c.CommandPath())
		}
		if c.HasSubCommands() {
			return // a group: its subcommands carry the examples
		}
		if !strings.Contains(c.Example, "earshot "+strings.TrimPrefix(c.CommandPath(), "earshot ")) {
			t.Errorf("%s has no example of itself", c.CommandPath())
		}
	}
	walk(newRoot(&bytes.Buffer{}, &bytes.Buffer{}))
	if n < 12 {
		t.Errorf("walked %d commands", n)
	}
}

// TestExitCodes: the documented exit codes, for cases that need no server.
func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"--help"}, 0},
		{[]string{"help", "check"}, 0},
		{[]string{"completion", "bash"}, 0},
		{[]string{"config"}, 0},
		{[]string{"nonsense"}, exitUsage},
		{[]string{"report"}, exitUsage},
		{[]string{"report", "--stream", "s", "--format", "xml"}, exitUsage},
		{[]string{"report", "--stream", "s", "--from", "yesterday"}, exitUsage},
		{[]string{"check", "--stream", "s", "--claimed", "5"}, exitUsage},
		{[]string{"check", "--stream", "s", "--claimed", "5", "--metric", "views"}, exitUsage},
		{[]string{"claims"}, exitUsage},
		{[]string{"claims", "import"}, exitUsage},
		{[]string{"claims", "import", "/no/such/file.csv"}, exitFailed},
		{[]string{"streams", "close"}, exitUsage},
		{[]string{"config", "--set", "nokey"}, exitFailed},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), c.args, &out, &errOut); code != c.code {
			t.Errorf("earshot %s: exit code %d, want %d\n%s", strings.Join(c.args, " "), code, c.code, errOut.String())
		}
	}
}
