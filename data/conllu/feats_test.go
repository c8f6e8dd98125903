package conllu

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseFeats(t *testing.T) {
	tests := []struct {
		in        string
		want      Feats
		canonical string
	}{
		{"_", nil, "_"},
		{"Case=Nom", Feats{{"Case", "Nom"}}, "Case=Nom"},
		{"Number=Sing|Case=Nom", Feats{{"Case", "Nom"}, {"Number", "Sing"}}, "Case=Nom|Number=Sing"},
		// UD sorts ignoring case: "Number" before "NumType".
		{"NumType=Card|Number=Plur", Feats{{"Number", "Plur"}, {"NumType", "Card"}}, "Number=Plur|NumType=Card"},
		{"PronType=Rel,Int", Feats{{"PronType", "Int,Rel"}}, "PronType=Int,Rel"},
		{"Number[psor]=Sing|Gender[psor]=Masc", Feats{{"Gender[psor]", "Masc"}, {"Number[psor]", "Sing"}}, "Gender[psor]=Masc|Number[psor]=Sing"},
	}
	for _, tt := range tests {
		got, err := ParseFeats(tt.in)
		if err != nil {
			t.Errorf("ParseFeats(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseFeats(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.canonical {
			t.Errorf("ParseFeats(%q).String() = %q, want %q", tt.in, s, tt.canonical)
		}
		if c, err := CanonicalFeats(tt.in); err != nil || c != tt.canonical {
			t.Errorf("CanonicalFeats(%q) = %q, %v", tt.in, c, err)
		}
	}
	f, _ := ParseFeats("Case=Nom|Number=Sing")
	if v, ok := f.Get("Number"); !ok || v != "Sing" {
		t.Errorf(`Get("Number") = %q, %v`, v, ok)
	}
	if _, ok := f.Get("Gender"); ok {
		t.Error(`Get("Gender") found a missing feature`)
	}
}

func TestParseFeatsErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "malformed feature"},
		{"Case", `malformed feature "Case"`},
		{"=Nom", "malformed feature"},
		{"Case=Nom|", `malformed feature ""`},
		{"Case=Nom=Acc", "malformed feature"},
		{"Ca,se=Nom", "malformed feature"},
		{"Case=", "has an empty value"},
		{"PronType=Int,", "has an empty value"},
		{"PronType=Int,Int", `has value "Int" twice`},
		{"Case=Nom|Case=Acc", "feature Case appears twice"},
	}
	for _, tt := range tests {
		_, err := ParseFeats(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseFeats(%q) error = %v, want one containing %q", tt.in, err, tt.want)
		}
		if _, err := CanonicalFeats(tt.in); err == nil {
			t.Errorf("CanonicalFeats(%q) gave no error", tt.in)
		}
	}
}
