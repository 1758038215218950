package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/earshot/earshot/internal/claims"
)

// claimFlags are the flags that state one claim, shared by `check` and `claims add`.
type claimFlags struct {
	c  claims.Claim
	at string
}

func (f *claimFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.c.StreamID, "stream", "", "stream id (required)")
	fs.Float64Var(&f.c.ClaimedValue, "claimed", 0, "the claimed figure, e.g. 60000000 (required)")
	fs.StringVar(&f.c.Metric, "metric", "", "what the claim counts: concurrent, cume or displayed (required)")
	fs.StringVar(&f.at, "at", "", "when it was said, RFC 3339 (concurrent: the minute compared)")
	fs.StringVar(&f.c.Claimant, "claimant", "", "who said it")
	fs.StringVar(&f.c.Quote, "quote", "", "what was said, verbatim")
	fs.StringVar(&f.c.SourceURL, "source", "", "where it was said (http or https URL)")
	cmd.RegisterFlagCompletionFunc("metric", cobra.FixedCompletions([]string{claims.MetricConcurrent, claims.MetricCume, claims.MetricDisplayed}, cobra.ShellCompDirectiveNoFileComp))
}

// claim is the claim the flags state, validated; its id is derived from what it says unless
// one was given (claims.NewID: stating it twice stores it once).
func (f *claimFlags) claim(fs *pflag.FlagSet) (claims.Claim, error) {
	if err := required(fs, "stream", "claimed", "metric"); err != nil {
		return claims.Claim{}, err
	}
	t, err := parseTime("at", f.at)
	if err != nil {
		return claims.Claim{}, err
	}
	c := f.c
	c.SaidAt = t
	if c.ID == "" {
		c.ID = claims.NewID(c)
	}
	if err := c.Validate(); err != nil {
		return claims.Claim{}, usageError{err}
	}
	return c, nil
}
