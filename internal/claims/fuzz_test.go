package claims

import (
	"bytes"
	"testing"
)

// FuzzParse: whatever a journalist's file holds, Parse answers with claims that validate or
// with an error, never a panic; and what it accepts has distinct ids.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"claim_id,stream_id,claimed_value,metric\nc1,s,60000000,concurrent\n",
		`[{"claim_id":"c1","stream_id":"s","claimed_value":5,"metric":"cume","said_at":"2024-08-13T01:00:00Z"}]`,
		`{"claim_id":"c1","stream_id":"s","claimed_value":5,"metric":"displayed"}` + "\n",
		"\ufeffclaim_id,stream_id,claimed_value,metric,\n\"a\nb\",s,1,cume\n",
		`[{"claim_id":"c1","claimed_value":"60M"}`,
	} {
		f.Add(seed, "claims.csv")
		f.Add(seed, "claims.json")
		f.Add(seed, "-")
	}
	f.Fuzz(func(t *testing.T, data, name string) {
		cs, err := Parse(name, bytes.NewReader([]byte(data)))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, c := range cs {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("Parse accepted an invalid claim %+v: %v", c, verr)
			}
			if seen[c.ID] {
				t.Fatalf("Parse accepted claim id %q twice", c.ID)
			}
			seen[c.ID] = true
		}
	})
}
