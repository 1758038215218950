package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/earshot/earshot/pkg/client"
	"github.com/earshot/earshot/pkg/event"
)

const (
	// headBytes of the file as stored identify it in the state file: enough to tell two exports
	// apart, little enough to read at every start.
	headBytes = 64 << 10
	// maxLineBytes bounds one line held in memory. An event is well under 2 KB (ids ≤ 128 bytes);
	// a longer line is an export's garbage, or a file without line ends, and is counted
	// line_too_long rather than read whole.
	maxLineBytes = 1 << 20
	// reasonLineTooLong is the reason of such a line.
	reasonLineTooLong = "line_too_long"
)

// input reads the replayed file line by line, decompressing it if it starts with gzip's magic
// bytes (an export's name need not say .gz). Offsets and line numbers count the uncompressed
// text, so that they mean the same whether the file is compressed or not; read counts the bytes
// of the file as stored, which is what its size (and so the ETA) is measured in.
type input struct {
	f    *os.File
	size int64
	head string // hex SHA-256 of the first headBytes of the file as stored
	gz   bool
	read *atomic.Int64
	br   *bufio.Reader
	zr   *gzip.Reader

	off  int64  // uncompressed offset of the next line
	line int64  // lines read before off
	buf  []byte // a line longer than br's buffer, assembled
}

// openInput opens path; read is incremented with every byte taken from the file.
func openInput(path string, read *atomic.Int64) (*input, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open the replay input: %w", err)
	}
	in := &input{f: f, read: read}
	if err := in.init(); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	return in, nil
}

func (in *input) init() error {
	fi, err := in.f.Stat()
	if err != nil {
		return err
	}
	in.size = fi.Size()
	head := make([]byte, headBytes)
	n, err := io.ReadFull(in.f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return err
	}
	sum := sha256.Sum256(head[:n])
	in.head = hex.EncodeToString(sum[:])
	in.gz = n >= 2 && head[0] == 0x1f && head[1] == 0x8b
	return in.rewind(0)
}

// rewind positions the reader at offset `at` of the file as stored: 0, or any offset of an
// uncompressed file.
func (in *input) rewind(at int64) error {
	if _, err := in.f.Seek(at, io.SeekStart); err != nil {
		return err
	}
	in.read.Store(at)
	var r io.Reader = &counting{r: in.f, n: in.read}
	if in.gz {
		zr, err := gzip.NewReader(bufio.NewReaderSize(r, 64<<10))
		if err != nil {
			return fmt.Errorf("not a readable gzip file: %w", err)
		}
		in.zr, r = zr, zr
	}
	in.br = bufio.NewReaderSize(r, 64<<10)
	return nil
}

// skipTo moves to uncompressed offset off, the start of line `line`+1, where a resumed replay
// starts. The byte before it must end a line, or the file is not the one the state was made
// from, unless off is the very end of the file (its last line has no line end). An uncompressed file seeks; a compressed one is decompressed up to there.
func (in *input) skipTo(off, line int64) error {
	if off == 0 {
		return nil
	}
	if !in.gz {
		if off > in.size {
			return fmt.Errorf("%w: offset %d is past the end of the input (%d bytes)", ErrStateMismatch, off, in.size)
		}
		if err := in.rewind(off - 1); err != nil {
			return err
		}
	} else if n, err := io.CopyN(io.Discard, in.br, off-1); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: offset %d is past the end of the input (%d bytes uncompressed)", ErrStateMismatch, off, n)
		}
		return err
	}
	c, err := in.br.ReadByte()
	if err != nil || c != '\n' {
		// The end of a file whose last line has no line end is where a finished replay of it
		// stopped: nothing follows it to resume.
		if _, perr := in.br.Peek(1); err != nil || !errors.Is(perr, io.EOF) {
			return fmt.Errorf("%w: offset %d is not the start of a line", ErrStateMismatch, off)
		}
	}
	in.off, in.line = off, line
	return nil
}

func (in *input) close() {
	if in.zr != nil {
		in.zr.Close()
	}
	in.f.Close()
}

// counting counts the bytes read through it into n.
type counting struct {
	r io.Reader
	n *atomic.Int64
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// line is one input line as judged by next.
type line struct {
	num        int64 // 1-based
	start, end int64 // uncompressed offsets: [start, end) including the line end
	kind       lineKind
	ev         client.Event // kindEvent and kindEnd
	bad        LineError    // kindBad
}

type lineKind uint8

const (
	kindBlank lineKind = iota
	kindEvent          // a valid event, to send
	kindEnd            // a valid end event, held back (Summary.InputEnds)
	kindBad            // not a valid event (Summary.MalformedLines)
)

// next reads and judges the next line into l; it returns io.EOF after the last one. Any other
// error is the input's (a truncated or corrupt gzip file): the partial line it cut is not
// returned.
func (in *input) next(l *line) error {
	data, n, tooLong, err := in.readLine()
	if n == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			return io.EOF
		}
		return fmt.Errorf("cannot read the input after line %d: %w", in.line, err)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("cannot read the input after line %d: %w", in.line, err)
	}
	in.line++
	*l = line{num: in.line, start: in.off, end: in.off + n}
	if in.off == 0 {
		data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a BOM some exporters write
	}
	in.off += n
	if tooLong {
		l.kind, l.bad = kindBad, LineError{Reason: reasonLineTooLong, Message: fmt.Sprintf("longer than %d bytes", maxLineBytes)}
	} else {
		judge(data, l)
	}
	l.bad.Line, l.bad.Offset = l.num, l.start
	return nil
}

// readLine returns the next line with its end (data aliases in's buffers until the next call)
// and its length n in bytes; a line longer than maxLineBytes is read past, not kept.
func (in *input) readLine() (data []byte, n int64, tooLong bool, err error) {
	in.buf = in.buf[:0]
	for {
		frag, err := in.br.ReadSlice('\n')
		n += int64(len(frag))
		if !tooLong && len(in.buf)+len(frag) > maxLineBytes {
			tooLong, in.buf = true, in.buf[:0]
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if !tooLong {
				in.buf = append(in.buf, frag...)
			}
			continue
		case tooLong:
			return nil, n, true, err
		case len(in.buf) > 0:
			in.buf = append(in.buf, frag...)
			return in.buf, n, false, err
		}
		return frag, n, false, err
	}
}

// judge parses and validates one line with the collector's own code (pkg/event), and converts
// a valid event to the client's form. The conversion is exact for valid events only: every
// field the collector reads has a place in client.Event, sent_at is replaced by pkg/client's
// (a trusted_time token ignores it), unknown fields are dropped (the collector skips them).
func judge(data []byte, l *line) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		l.kind = kindBlank
		return
	}
	if trimmed[0] == '[' {
		// event.ParseBody would take it for a request body holding an array.
		l.kind, l.bad = kindBad, LineError{Reason: string(event.ReasonNotObject), Message: "a line must hold one event object, not an array"}
		return
	}
	calls := 0
	// A line holds no '\n' but its last byte, so ParseBody calls back exactly once.
	_ = event.ParseBody(data, func(_ int, e *event.Event, r event.Reason) {
		calls++
		field := ""
		if r == "" {
			r, field = event.ValidateField(e)
		}
		if r != "" {
			l.kind, l.bad = kindBad, LineError{Reason: string(r), Message: r.MessageFor(field)}
			return
		}
		l.kind, l.ev = kindEvent, convert(e)
		if e.Type == event.TypeEnd {
			l.kind = kindEnd
		}
	})
	if calls != 1 {
		l.kind, l.bad = kindBad, LineError{Reason: string(event.ReasonMalformed), Message: event.ReasonMalformed.Message()}
	}
}

// convert copies a valid event out of the line buffer into a client.Event.
func convert(e *event.Event) client.Event {
	c := client.Event{EventID: string(e.EventID), Type: e.Type.String(), StreamID: string(e.StreamID),
		ListenerID: string(e.ListenerID), TS: e.TSMillis, Muted: e.Muted, ErrorCode: string(e.ErrorCode),
		Ticket: string(e.Ticket)}
	if e.HasPlayed {
		c.PlayedMS = client.Int(e.PlayedMS)
	}
	if e.HasStalled {
		c.StalledMS = client.Int(e.StalledMS)
	}
	if e.HasDisplayed {
		c.DisplayedCount = client.Int(e.DisplayedCount)
	}
	if e.HasClient {
		c.Client = &client.ClientInfo{App: string(e.Client.App), Version: string(e.Client.Version), Platform: string(e.Client.Platform)}
	}
	return c
}
