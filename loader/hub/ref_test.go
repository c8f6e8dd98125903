package hub

import (
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	commit := strings.Repeat("0123456789", 4)
	tests := []struct {
		in      string
		want    Ref
		wantErr string // a substring of the error; "" for none
	}{
		{"hf:org/name", Ref{"org/name", "main"}, ""},
		{"hf:bert-base-uncased", Ref{"bert-base-uncased", "main"}, ""},
		{"hf:org/name@v1.0", Ref{"org/name", "v1.0"}, ""},
		{"hf:org/name@" + commit, Ref{"org/name", commit}, ""},
		{"hf:org/name@refs/pr/1", Ref{"org/name", "refs/pr/1"}, ""},
		{"hf:Org_1/my.model-v2", Ref{"Org_1/my.model-v2", "main"}, ""},
		{"org/name", Ref{}, "want hf:org/name"},
		{"hf://org/name", Ref{}, "want org/name or name"},
		{"hf:", Ref{}, "empty repository id"},
		{"hf:org/name@", Ref{}, "empty revision"},
		{"hf:@main", Ref{}, "empty repository id"},
		{"hf:a/b/c", Ref{}, "want org/name or name"},
		{"hf:org/", Ref{}, "empty part"},
		{"hf:org/na me", Ref{}, "not allowed"},
		{"hf:org/-name", Ref{}, "cannot start or end"},
		{"hf:org/name.", Ref{}, "cannot start or end"},
		{"hf:org/na--me", Ref{}, `"--"`},
		{"hf:org/na..me", Ref{}, `"--"`},
		{"hf:org/name.git", Ref{}, ".git"},
		{"hf:org/" + strings.Repeat("x", 97), Ref{}, "longer than 96"},
		{"hf:org/name@../../etc", Ref{}, `".."`},
		{"hf:org/name@/main", Ref{}, "empty part"},
		{"hf:org/name@main/", Ref{}, "empty part"},
		{"hf:org/name@.hidden", Ref{}, "starting with '.'"},
		{"hf:org/name@x.lock", Ref{}, ".lock"},
		{"hf:org/name@a\\b", Ref{}, "not allowed"},
		{"hf:org/name@a:b", Ref{}, "not allowed"},
		{"hf:org/name@a b", Ref{}, "not allowed"},
		{"hf:org/name@main@{1}", Ref{}, `"@{"`},
		{"hf:org/name@v1.", Ref{}, "cannot end with '.'"},
	}
	for _, tt := range tests {
		got, err := ParseRef(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "hub: bad model reference") {
				t.Errorf("ParseRef(%q) = %+v, %v; want an error saying %s", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestRefString(t *testing.T) {
	if got := (Ref{Repo: "org/name"}).String(); got != "hf:org/name@main" {
		t.Errorf("String = %q", got)
	}
}

// FuzzParseRef checks that ParseRef never panics, that what it accepts
// round-trips through String, and that an accepted reference cannot lead
// outside the cache.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"hf:org/name", "hf:name@v1.0", "hf:org/name@refs/pr/1", "hf:a/b@../x", "hf:a/b@" + strings.Repeat("a", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		again, err := ParseRef(r.String())
		if err != nil || again != r {
			t.Fatalf("%q parsed to %+v, whose String %q parses to %+v, %v", s, r, r.String(), again, err)
		}
		for _, part := range append(strings.Split(r.Repo, "/"), strings.Split(r.Revision, "/")...) {
			if part == "" || part == "." || part == ".." || strings.ContainsAny(part, "\\\x00") {
				t.Fatalf("%q: unsafe path element %q in %+v", s, part, r)
			}
		}
	})
}
