package hub

import (
	"fmt"
	"strings"
)

// DefaultRevision is the revision used when a reference names none.
const DefaultRevision = "main"

// A Ref names a model repository on the Hub and a revision of it.
type Ref struct {
	Repo     string // "org/name", or "name" for the Hub's legacy top-level repositories
	Revision string // a branch, a tag or a 40-hex commit hash; DefaultRevision when empty
}

// ParseRef parses a model reference of the form "hf:org/name" or "hf:name",
// optionally followed by "@revision" where revision is a branch, a tag, a
// commit hash or a ref such as "refs/pr/1".
func ParseRef(s string) (Ref, error) {
	rest, ok := strings.CutPrefix(s, "hf:")
	if !ok {
		return Ref{}, fmt.Errorf("hub: bad model reference %q: want hf:org/name[@revision]", s)
	}
	repo, rev, hasRev := strings.Cut(rest, "@")
	if hasRev && rev == "" {
		return Ref{}, fmt.Errorf("hub: bad model reference %q: empty revision after @", s)
	}
	r := Ref{Repo: repo, Revision: rev}
	if err := r.check(); err != nil {
		return Ref{}, fmt.Errorf("hub: bad model reference %q: %v", s, err)
	}
	return r.withDefaults(), nil
}

// String returns the reference in the form ParseRef accepts.
func (r Ref) String() string {
	return "hf:" + r.Repo + "@" + r.withDefaults().Revision
}

func (r Ref) withDefaults() Ref {
	if r.Revision == "" {
		r.Revision = DefaultRevision
	}
	return r
}

// check checks that r names a valid repository and revision. Both end up in
// cache paths, so this is also what keeps them inside the cache.
func (r Ref) check() error {
	if err := checkRepoID(r.Repo); err != nil {
		return err
	}
	if r.Revision != "" {
		return checkRevision(r.Revision)
	}
	return nil
}

// checkRepoID applies huggingface_hub's validate_repo_id rules: an optional
// namespace and a name of at most 96 characters, both made of ASCII letters,
// digits, '_', '-' and '.', neither starting nor ending with '-' or '.', and
// no "--" or "..", since "--" separates the parts of a cache folder name.
func checkRepoID(id string) error {
	if id == "" {
		return fmt.Errorf("empty repository id")
	}
	parts := strings.Split(id, "/")
	if len(parts) > 2 {
		return fmt.Errorf("repository id %q: want org/name or name", id)
	}
	if len(parts[len(parts)-1]) > 96 {
		return fmt.Errorf("repository id %q: name longer than 96 characters", id)
	}
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("repository id %q: empty part", id)
		}
		for i := 0; i < len(p); i++ {
			if !isWordByte(p[i]) && p[i] != '-' && p[i] != '.' {
				return fmt.Errorf("repository id %q: character %q not allowed (letters, digits, '-', '_', '.')", id, p[i])
			}
		}
		if !isWordByte(p[0]) || !isWordByte(p[len(p)-1]) {
			return fmt.Errorf("repository id %q: '-' and '.' cannot start or end a name", id)
		}
	}
	if strings.Contains(id, "--") || strings.Contains(id, "..") {
		return fmt.Errorf("repository id %q: \"--\" and \"..\" are not allowed", id)
	}
	if strings.HasSuffix(id, ".git") {
		return fmt.Errorf("repository id %q: cannot end with .git", id)
	}
	return nil
}

func isWordByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_'
}

// checkRevision applies git's rules for ref names (git check-ref-format),
// which also make the revision safe as a relative path under refs/.
func checkRevision(rev string) error {
	if len(rev) > 255 {
		return fmt.Errorf("revision longer than 255 characters")
	}
	if strings.Contains(rev, "..") || strings.Contains(rev, "@{") {
		return fmt.Errorf("revision %q: \"..\" and \"@{\" are not allowed", rev)
	}
	for i := 0; i < len(rev); i++ {
		if c := rev[i]; c <= ' ' || c == 0x7f || strings.IndexByte(`~^:?*[\`, c) >= 0 {
			return fmt.Errorf("revision %q: character %q not allowed", rev, c)
		}
	}
	for _, part := range strings.Split(rev, "/") {
		if part == "" || part[0] == '.' || strings.HasSuffix(part, ".lock") {
			return fmt.Errorf("revision %q: empty part, part starting with '.', or part ending with .lock", rev)
		}
	}
	if strings.HasSuffix(rev, ".") {
		return fmt.Errorf("revision %q: cannot end with '.'", rev)
	}
	return nil
}

// isCommit reports whether rev is a full commit hash, as the Hub writes them.
func isCommit(rev string) bool {
	return isHex(rev, 40)
}

// isHex reports whether s is n lower-case hexadecimal digits.
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
