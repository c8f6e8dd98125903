package conll

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzRead checks that Read never panics and that whatever it accepts is
// written by Write and read back to the same sentences.
func FuzzRead(f *testing.F) {
	f.Add([]byte("-DOCSTART- -X- O\n\nEU B-ORG\nrejects O\n\nPeter B-PER\n"), false, uint8(0))
	f.Add([]byte("Lil\tB-person\nSly-\tI-person\nTurn\tI-creative-work\n\n\uFEFF\n"), true, uint8(IOB2))
	f.Add([]byte("a\tB-X\r\nb\tE-X\r\n \t\r\nc\tS-Y\r\n"), false, uint8(IOBES))
	f.Add([]byte("a  x  I-X\nb  y  B-X\n"), false, uint8(IOB1))
	f.Fuzz(func(t *testing.T, data []byte, stripBOM bool, scheme uint8) {
		opt := Options{StripBOM: stripBOM, Scheme: Scheme(scheme % 5)}
		sents, err := Read(bytes.NewReader(data), "fuzz", opt)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, sents); err != nil {
			t.Fatalf("Write of accepted input: %v", err)
		}
		again, err := Read(bytes.NewReader(buf.Bytes()), "again", opt)
		if err != nil {
			t.Fatalf("Read of written output: %v\n%q", err, buf.Bytes())
		}
		if len(again) != len(sents) {
			t.Fatalf("%d sentences read back, want %d", len(again), len(sents))
		}
		for i := range sents {
			a, b := sents[i], again[i]
			a.Line, b.Line = 0, 0 // blank and -DOCSTART- lines are not written
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("sentence %d read back as %+v, want %+v", i+1, b, a)
			}
		}
	})
}
