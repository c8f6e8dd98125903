package tsv

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opt  Options
		want []Example
	}{
		{"glue header", "sentence\tlabel\nit 's good \t1\n", Options{},
			[]Example{{Text: "it 's good ", Label: "1", Line: 2}}},
		{"text header", "text\tlabel\r\na\t0\r\nb\t1", Options{},
			[]Example{{Text: "a", Label: "0", Line: 2}, {Text: "b", Label: "1", Line: 3}}},
		{"sentence before text", "text\tsentence\tlabel\nt\ts\t0\n", Options{},
			[]Example{{Text: "s", Label: "0", Line: 2}}},
		{"named columns", "index\tq1\tq2\tis_dup\n0\tA?\tB?\t1\n", Options{Text: "q1", TextPair: "q2", Label: "is_dup"},
			[]Example{{Text: "A?", TextPair: "B?", Label: "1", Line: 2}}},
		{"quotes are literal", "sentence\tlabel\n\"a\tb\"\n", Options{},
			[]Example{{Text: `"a`, Label: `b"`, Line: 2}}},
		{"no label allowed", "index\tsentence\n0\thi\n", Options{AllowNoLabel: true},
			[]Example{{Text: "hi", Line: 2}}},
		{"label read when allowed missing", "sentence\tlabel\nhi\t1\n", Options{AllowNoLabel: true},
			[]Example{{Text: "hi", Label: "1", Line: 2}}},
		{"bom", "\uFEFFsentence\tlabel\nhi\t1\n", Options{},
			[]Example{{Text: "hi", Label: "1", Line: 2}}},
		{"header only", "sentence\tlabel\n", Options{}, nil},
	}
	for _, tt := range tests {
		got, err := Read(strings.NewReader(tt.in), "x", tt.opt)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Read = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opt  Options
		want string
	}{
		{"empty file", "", Options{}, "x: empty file, want a header row"},
		{"no text column", "review\tlabel\n", Options{}, `x:1: header: no column "sentence" or "text" in ["review" "label"] (set Options.Text)`},
		{"named text missing", "sentence\tlabel\n", Options{Text: "q1"}, `x:1: header: no column "q1"`},
		{"pair missing", "sentence\tlabel\n", Options{TextPair: "q2"}, `x:1: header: no column "q2"`},
		{"no label column", "sentence\n", Options{}, `x:1: header: no column "label"`},
		{"duplicate column", "sentence\tlabel\tlabel\n", Options{}, `x:1: header: column "label" appears twice`},
		{"unnamed column", "sentence\t\tlabel\n", Options{}, "x:1: header: column 2 has no name"},
		{"too few fields", "sentence\tlabel\na\t1\nb\n", Options{}, "x:3: 1 fields, but the header has 2"},
		{"too many fields", "sentence\tlabel\na\t1\t2\n", Options{}, "x:2: 3 fields, but the header has 2"},
		{"empty label", "sentence\tlabel\na\t\n", Options{}, "x:2: empty label"},
		{"blank line", "sentence\tlabel\na\t1\n\nb\t0\n", Options{}, "x:3: blank line"},
		{"invalid utf8", "sentence\tlabel\na\xc3\t1\n", Options{}, "x:2: invalid UTF-8 at byte 2"},
		{"stray cr", "sentence\tlabel\na\r\t1\n", Options{}, "x:2: carriage return"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(strings.NewReader(tt.in), "x", tt.opt)
			if err == nil {
				t.Fatalf("no error; read %+v", got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, []string{"index", "prediction"}, [][]string{{"0", "1"}, {"1", "0"}}); err != nil {
		t.Fatal(err)
	}
	if want := "index\tprediction\n0\t1\n1\t0\n"; buf.String() != want {
		t.Errorf("Write gave %q, want %q", buf.String(), want)
	}
	bad := []struct {
		header []string
		rows   [][]string
		want   string
	}{
		{nil, nil, "empty header"},
		{[]string{"a\tb"}, nil, "writing the header"},
		{[]string{"a", "b"}, [][]string{{"1"}}, "row 1: 1 fields, want 2"},
		{[]string{"a"}, [][]string{{"x"}, {"y\n"}}, "row 2: field 1"},
		{[]string{"a"}, [][]string{{"\xff"}}, "row 1: field 1"},
	}
	for _, tt := range bad {
		err := Write(&bytes.Buffer{}, tt.header, tt.rows)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Write(%q, %q) error = %v, want one containing %q", tt.header, tt.rows, err, tt.want)
		}
	}
}

// sharedData locates the shared data directory (../shared/data beside the
// repository) or skips the test.
func sharedData(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "data")
	if _, err := os.Stat(filepath.Join(dir, "sst2")); err != nil {
		t.Skipf("shared data not found at %s", dir)
	}
	return dir
}

// TestSST2 reads SST-2 (header "text<TAB>label") and checks the counts of
// its SOURCE.md.
func TestSST2(t *testing.T) {
	dir := sharedData(t)
	tests := []struct {
		file           string
		rows, neg, pos int
	}{
		{"train.tsv", 67349, 29780, 37569},
		{"dev.tsv", 872, 428, 444},
	}
	for _, tt := range tests {
		examples, err := ReadFile(filepath.Join(dir, "sst2", tt.file), Options{})
		if err != nil {
			t.Fatal(err)
		}
		labels := map[string]int{}
		for _, ex := range examples {
			labels[ex.Label]++
		}
		if len(examples) != tt.rows || labels["0"] != tt.neg || labels["1"] != tt.pos || len(labels) != 2 {
			t.Errorf("%s: %d rows, labels %v; want %d rows, %d of 0, %d of 1", tt.file, len(examples), labels, tt.rows, tt.neg, tt.pos)
		}
		if tt.file == "dev.tsv" {
			first := Example{Text: "it 's a charming and often affecting journey . ", Label: "1", Line: 2}
			if examples[0] != first {
				t.Errorf("first dev example %+v, want %+v", examples[0], first)
			}
		}
	}
}
