package session

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/earshot/earshot/pkg/event"
)

// format3Scenario is a partition's input cut in two: testdata/format3.checkpoint is the state
// after `first`, written by the format-3 encoder (commit b16ce45).
func format3Scenario() (first, rest []event.Record) {
	var evs []specEvent
	evs = append(evs, ev1("a", "join@0", "play@1", "hb@10/9000", "hb@20/10000", "hb@30/10000m", "hb@40/10000", "leave@45")...)
	evs = append(evs, ev1("b", "join@5", "err@6:network", "join@70", "play@71", "hb@80/9000", "hb@90/10000s2000", "hb@100/10000")...)
	evs = append(evs, ev1("c", "join@50", "play@51", "hb@60/9000", "hb@70/10000", "hb@130/10000", "hb@200/10000", "leave@205")...)
	all := append(trusted("s", evs), trusted("t", ev1("d", "join@3", "play@4", "hb@13/9000", "hb@90/10000", "leave@95"))...)
	slices.SortStableFunc(all, func(a, b event.Record) int { return cmp.Compare(a.EventTime, b.EventTime) })
	for _, r := range all {
		if r.EventTime < specT0+75_000 {
			first = append(first, r)
		} else {
			rest = append(rest, r)
		}
	}
	return first, append(rest, endOf("s", specT0+300_000), endOf("t", specT0+300_000))
}

// A checkpoint of the release before (format 3) restores, and the restored partition goes on
// exactly as the partition that wrote it would have: an upgrade resumes where it stopped. So
// does a format-4 checkpoint, written as a stream.
func TestFormat3CheckpointRestores(t *testing.T) {
	old, err := os.ReadFile("testdata/format3.checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	if old[0] != 3 {
		t.Fatalf("testdata/format3.checkpoint is format %d", old[0])
	}
	first, rest := format3Scenario()
	fresh := New(DefaultConfig(), 0)
	reviewFeed(t, fresh, newRows(), first...)
	var v4 bytes.Buffer
	if err := fresh.WriteCheckpoint(&v4); err != nil {
		t.Fatal(err)
	}
	if v4.Bytes()[0] != 4 {
		t.Fatalf("WriteCheckpoint wrote format %d", v4.Bytes()[0])
	}
	want := newRows()
	reviewFeed(t, fresh, want, rest...)
	if len(want.minutes) == 0 {
		t.Fatal("the scenario's second half wrote no minutes")
	}
	for name, data := range map[string][]byte{"format 3": old, "format 4": v4.Bytes()} {
		p, err := Restore(DefaultConfig(), data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := p.verify(); err != nil {
			t.Fatalf("%s: restored state: %v", name, err)
		}
		got := newRows()
		reviewFeed(t, p, got, rest...)
		if diff := want.diff(got); diff != "" {
			t.Errorf("%s: restored partition's rows differ from the partition that wrote it:\n%s", name, diff)
		}
	}
}

// A format-4 checkpoint cut short, with bytes after its last listener, or with a listener count
// larger than what follows, is refused with an error, never restored as something else.
func TestFormat4CorruptCheckpointIsRefused(t *testing.T) {
	first, _ := format3Scenario()
	p := New(DefaultConfig(), 0)
	reviewFeed(t, p, newRows(), first...)
	data, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	hdrLen, k := binary.Uvarint(data[1:])
	body := 1 + k + int(hdrLen)
	cases := map[string][]byte{
		"cut in the header":    data[:1+k+int(hdrLen)/2],
		"cut in the listeners": data[:body+(len(data)-body)/2],
		"a byte too many":      append(slices.Clone(data), 0),
		"no header length":     data[:1],
	}
	for name, c := range cases {
		noPanic(t, func() {
			if _, err := Restore(DefaultConfig(), c); err == nil {
				t.Errorf("%s: restored", name)
			}
		})
	}
	if _, err := Restore(DefaultConfig(), []byte{2}); !errors.Is(err, ErrOldCheckpoint) {
		t.Errorf("format 2: %v, want ErrOldCheckpoint", err)
	}
	if _, err := Restore(DefaultConfig(), []byte{5}); err == nil {
		t.Error("format 5 restored")
	}
}
