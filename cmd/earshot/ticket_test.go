package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/ticket"
)

func TestTicketCommand(t *testing.T) {
	const key = "ticket-key-held-by-the-platform-0123456789"
	t.Setenv("PLATFORM_TICKET_KEY", key)
	var out, diag bytes.Buffer
	if code := run(context.Background(), []string{"ticket", "--key-env", "PLATFORM_TICKET_KEY", "--stream", "space-1", "--listener", "u1", "--ttl", "2h"}, &out, &diag); code != 0 {
		t.Fatalf("exit code %d: %s", code, diag.String())
	}
	tk := strings.TrimSuffix(out.String(), "\n")
	now := time.Now()
	if err := ticket.Verify([]byte(key), []byte(tk), []byte("space-1"), []byte("u1"), now.Add(119*time.Minute)); err != nil {
		t.Fatalf("printed %q: %v", out.String(), err)
	}
	if err := ticket.Verify([]byte(key), []byte(tk), []byte("space-1"), []byte("u1"), now.Add(2*time.Hour+time.Second)); err != ticket.ErrExpired {
		t.Fatalf("after the ttl: %v", err)
	}
	if strings.Contains(diag.String(), key) || strings.Contains(out.String(), key) {
		t.Fatal("the key was printed")
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--stream", "s", "--listener", "u"}, exitFailed}, // EARSHOT_TICKET_KEY unset
		{[]string{"--key-env", "PLATFORM_TICKET_KEY", "--listener", "u"}, exitUsage},
		{[]string{"--key-env", "PLATFORM_TICKET_KEY", "--stream", "s", "--listener", "u", "--ttl", "-1h"}, exitUsage},
		{[]string{"--stream", "s", "--listener", "u", "--no-such-flag"}, exitUsage},
	} {
		t.Setenv("EARSHOT_TICKET_KEY", "")
		if code := run(context.Background(), append([]string{"ticket"}, tc.args...), &out, &diag); code != tc.code {
			t.Fatalf("%v: exit code %d, want %d", tc.args, code, tc.code)
		}
	}
}
