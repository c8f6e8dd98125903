package conllu

import (
	"strings"
	"testing"
)

func TestIsTree(t *testing.T) {
	tests := []struct {
		heads []int
		want  string // "" for a tree, else part of the error
	}{
		{[]int{0}, ""},
		{[]int{2, 0, 2}, ""},
		{[]int{3, 4, 4, 0, 4}, ""},
		{[]int{}, "no root"},
		{[]int{2, 1}, "no root"},
		{[]int{0, 0}, "several roots: words 1 and 2"},
		{[]int{0, 3, 2}, "cycle: 2 -> 3 -> 2"},
		{[]int{0, 2}, "cycle: 2 -> 2"},
		{[]int{0, 3, 4, 2}, "cycle: 2 -> 3 -> 4 -> 2"},
		{[]int{0, 1, 5, 3, 4}, "cycle: 3 -> 5 -> 4 -> 3"},
		{[]int{0, 3}, "head 3 of word 2 is out of range 0..2"},
		{[]int{0, -2}, "head -2 of word 2 is out of range"},
		{[]int{0, NoHead}, "word 2 has no head"},
	}
	for _, tt := range tests {
		err := IsTree(tt.heads)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("IsTree(%v) = %v, want nil", tt.heads, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("IsTree(%v) = %v, want an error containing %q", tt.heads, err, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	in := "# sent_id = a\n" + row("1", "2") + row("2", "1") + "\n" + row("1", "0") + "\n"
	sents, err := Read(strings.NewReader(in), "x")
	if err != nil {
		t.Fatal(err)
	}
	err = Validate(sents[0])
	if want := `sentence at line 1 (sent_id "a"): no root: no word is attached to 0`; err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %s", err, want)
	}
	if err := Validate(sents[1]); err != nil {
		t.Errorf("Validate of a tree = %v", err)
	}
}
