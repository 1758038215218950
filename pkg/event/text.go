package event

import (
	"encoding/binary"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// checkText reports what is wrong with an id, error code or client string, or "" if nothing:
//
//   - ReasonBadChars for invalid UTF-8 (the scanner refuses it raw, but Validate may see events
//     made otherwise), a control character (C0, DEL, C1: they move a terminal's cursor, clear
//     its screen or start a line of a log or report), a format character (Unicode category Cf:
//     bidi embeddings, overrides and isolates, zero-width characters, the BOM, tags — they make
//     one id display as another), U+2028/U+2029 (line ends in JavaScript and some terminals)
//     and U+FFFD (the scanner's decoding of a lone surrogate escape: two different ids would
//     become one);
//   - with nfc, ReasonNotNFC for text not in Unicode NFC (see ReasonNotNFC).
//
// Ids are printable ASCII nearly always (0x20–0x7e), which is decided eight bytes at a time;
// only other text takes the rune-by-rune path (BenchmarkValidate).
func checkText(b []byte, nfc bool) Reason {
	if len(b) < 8 {
		for i, c := range b {
			if c-0x20 >= 0x7f-0x20 {
				return checkTextSlow(b, i, nfc)
			}
		}
		return ""
	}
	// Whole words, the last one overlapping its predecessor rather than a byte loop for the tail.
	for i := 0; ; i += 8 {
		i = min(i, len(b)-8)
		if !printableASCII(binary.LittleEndian.Uint64(b[i:])) {
			return checkTextSlow(b, i, nfc)
		}
		if i == len(b)-8 {
			return ""
		}
	}
}

// printableASCII reports whether all eight bytes of x are in 0x20–0x7e. A byte below 0x20
// borrows in x − 0x20… and has its top bit clear in x; a byte of 0x7f or more has its top bit
// set in x + 1… or in x. Carries and borrows spill only into bytes above one that is caught
// anyway, so the answer is exact.
func printableASCII(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return ((x-0x20*ones)&^x|(x+ones)|x)&highs == 0
}

// checkTextSlow is checkText from byte i, where printable ASCII may end.
func checkTextSlow(b []byte, i int, nfc bool) Reason {
	// Text of runes below U+0300 (ASCII, Latin-1, Latin Extended, IPA, spacing modifiers) is
	// always NFC: none of them decomposes, combines with another or has a combining class
	// (UAX #15 quick check; TestLatinIsNFC). Only other text needs the NFC check.
	latin := true
	for i < len(b) {
		if c := b[i]; c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return ReasonBadChars
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		i += size
		if r < 0x300 {
			// C1 controls; the soft hyphen is the one format character below U+0300.
			if r <= 0x9f || r == '\u00ad' {
				return ReasonBadChars
			}
			continue
		}
		latin = false
		// RuneError is both invalid UTF-8 (size 1) and a literal U+FFFD: both are refused.
		if r == utf8.RuneError || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r) {
			return ReasonBadChars
		}
	}
	if nfc && !latin && !norm.NFC.IsNormal(b) {
		return ReasonNotNFC
	}
	return ""
}
