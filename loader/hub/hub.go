// Package hub downloads model repositories from the HuggingFace Hub into the
// local cache that the Python huggingface_hub library uses, so that each
// reuses the other's downloads, and reads them back from that cache when
// offline.
//
// The cache layout is huggingface_hub's:
//
//	{cache}/models--{org}--{name}/
//	    blobs/{etag}                 file contents, named by git blob sha1 or LFS sha256
//	    blobs/{etag}.incomplete      a download in progress, resumed with a Range request
//	    snapshots/{commit}/{file}    relative symlinks to ../../blobs/{etag}
//	    refs/{revision}              the commit a branch or tag resolved to
//	{cache}/.locks/models--{org}--{name}/{etag}.lock
//
// Processes downloading the same blob take an exclusive flock (LockFileEx on
// Windows) on its .lock file, as huggingface_hub's filelock does, so a Go and
// a Python process sharing a cache do not interleave writes.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Errors that Download wraps; test for them with errors.Is.
var (
	ErrRepoNotFound     = errors.New("repository not found, or private and no valid token (set HF_TOKEN)")
	ErrRevisionNotFound = errors.New("revision not found")
	ErrGated            = errors.New("gated repository: request access on the Hub and set HF_TOKEN")
	ErrOffline          = errors.New("offline mode is on (HF_HUB_OFFLINE)")
	ErrNotCached        = errors.New("not in the local cache")
)

// metadataTimeout bounds the listing request, like huggingface_hub's
// HF_HUB_ETAG_TIMEOUT, so an unresponsive Hub soon falls back to the cache.
const metadataTimeout = 10 * time.Second

// A Client downloads repository snapshots into a local cache.
type Client struct {
	Endpoint string // Hub address, such as https://huggingface.co
	CacheDir string // the hub cache directory, holding models--org--name folders
	Token    string // sent as "Authorization: Bearer ..." to Endpoint only; empty for none
	Offline  bool   // use the cache only, never the network

	// HTTP is the client used for requests; nil means http.DefaultClient.
	// Its redirect policy is wrapped so the token never leaves Endpoint's host.
	HTTP *http.Client

	// Progress, if not nil, is called as a file downloads with the bytes
	// received so far (counting a resumed prefix) and the file's size.
	Progress func(file string, done, total int64)
}

// NewClient returns a Client configured from the environment the way
// huggingface_hub is: HF_ENDPOINT; HF_HUB_CACHE, else HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub or ~/.cache/huggingface/hub; HF_TOKEN, else
// the token file HF_TOKEN_PATH or HF_HOME/token; HF_HUB_OFFLINE (or
// TRANSFORMERS_OFFLINE) set to 1, ON, YES or TRUE.
func NewClient() *Client {
	home := expandHome(os.Getenv("HF_HOME"))
	if home == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			cache = expandHome("~/.cache")
		}
		if cache != "" {
			home = filepath.Join(cache, "huggingface")
		}
	}
	c := &Client{
		Endpoint: strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/"),
		CacheDir: expandHome(firstEnv("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")),
		Token:    firstEnv("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"),
		Offline:  isTrue(firstEnv("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")),
	}
	if c.Endpoint == "" {
		c.Endpoint = "https://huggingface.co"
	}
	if c.CacheDir == "" && home != "" {
		c.CacheDir = filepath.Join(home, "hub")
	}
	if c.Token == "" {
		path := expandHome(os.Getenv("HF_TOKEN_PATH"))
		if path == "" && home != "" {
			path = filepath.Join(home, "token")
		}
		if b, err := os.ReadFile(path); err == nil {
			c.Token = string(b)
		}
	}
	c.Token = strings.TrimSpace(c.Token)
	return c
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func isTrue(v string) bool {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

// expandHome replaces a leading "~" with the home directory, or returns ""
// when there is none to use.
func expandHome(p string) string {
	rest, ok := strings.CutPrefix(p, "~")
	if !ok || rest != "" && !os.IsPathSeparator(rest[0]) {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return home + rest
}

// A Snapshot is a revision of a repository present in the local cache.
type Snapshot struct {
	Dir    string   // the snapshots/{commit} directory
	Commit string   // the commit hash the revision resolved to
	Files  []string // the selected files, slash-separated paths relative to Dir

	// Offline is nil when the Hub was consulted. Otherwise the snapshot comes
	// from the cache alone and Offline says why: ErrOffline, or the error
	// that made the Hub unreachable. A branch or tag may then be stale.
	Offline error
}

// Download makes sure the files of ref chosen by sel are in the cache and
// returns the snapshot holding them.
//
// Online, it lists the revision's files (one request), downloads the chosen
// ones that the cache lacks, one at a time, resuming partial downloads and
// verifying size and hash, and then records the commit a branch or tag
// resolved to. When c.Offline is set, or when the listing fails because the
// Hub cannot be reached (connection refused, DNS failure, timeout, HTTP 5xx
// or 429), it resolves ref from the cache instead and applies sel to the
// files found there; Snapshot.Offline then says why. Answers that the
// repository or revision does not exist or is not accessible (HTTP 401, 403,
// 404) are errors and never fall back to the cache, unlike huggingface_hub's
// snapshot_download: a deleted or revoked model should not keep working
// silently. A failure while downloading a file is an error too.
func (c *Client) Download(ctx context.Context, ref Ref, sel Selector) (*Snapshot, error) {
	if err := ref.check(); err != nil {
		return nil, fmt.Errorf("hub: %v", err)
	}
	ref = ref.withDefaults()
	if c.CacheDir == "" {
		return nil, fmt.Errorf("hub: %s: no cache directory (set HF_HUB_CACHE or HF_HOME)", ref)
	}
	repoDir := filepath.Join(c.CacheDir, "models--"+strings.ReplaceAll(ref.Repo, "/", "--"))
	if c.Offline {
		return c.fromCache(repoDir, ref, sel, ErrOffline)
	}
	d := &downloader{Client: c, http: c.httpClient(), repoDir: repoDir, ref: ref}
	info, err := d.listing(ctx)
	if err != nil {
		if ctx.Err() == nil && unreachable(err) {
			return c.fromCache(repoDir, ref, sel, err)
		}
		return nil, fmt.Errorf("hub: %s: %w", ref, err)
	}
	names := make([]string, len(info.Siblings))
	byName := make(map[string]*sibling, len(info.Siblings))
	for i := range info.Siblings {
		s := &info.Siblings[i]
		names[i] = s.Name
		byName[s.Name] = s
	}
	chosen, err := sel(names)
	if err != nil {
		return nil, fmt.Errorf("hub: %s (commit %s): %w", ref, info.SHA, err)
	}
	for _, name := range chosen {
		s := byName[name]
		if s == nil {
			return nil, fmt.Errorf("hub: %s (commit %s): %s is not in the repository", ref, info.SHA, name)
		}
		if err := d.file(ctx, info.SHA, s); err != nil {
			return nil, err
		}
	}
	if ref.Revision != info.SHA {
		if err := writeFileAtomic(filepath.Join(repoDir, "refs", filepath.FromSlash(ref.Revision)), info.SHA); err != nil {
			return nil, fmt.Errorf("hub: %s: %w", ref, err)
		}
	}
	return &Snapshot{Dir: filepath.Join(repoDir, "snapshots", info.SHA), Commit: info.SHA, Files: chosen}, nil
}

// httpClient returns a copy of c.HTTP whose redirect policy drops the
// Authorization header on a redirect to another host, as requests does
// (Go's own policy would keep it for a subdomain such as a CDN's).
func (c *Client) httpClient() *http.Client {
	hc := *http.DefaultClient
	if c.HTTP != nil {
		hc = *c.HTTP
	}
	next := hc.CheckRedirect
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != via[0].URL.Host {
			req.Header.Del("Authorization")
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &hc
}

// fromCache resolves ref from the cache alone; why says why the Hub is not used.
func (c *Client) fromCache(repoDir string, ref Ref, sel Selector, why error) (*Snapshot, error) {
	notCached := func(format string, args ...any) error {
		return fmt.Errorf("hub: %s: %w: %s; and the Hub cannot be used: %w", ref, ErrNotCached, fmt.Sprintf(format, args...), why)
	}
	commit := ref.Revision
	if !isCommit(commit) {
		refPath := filepath.Join(repoDir, "refs", filepath.FromSlash(ref.Revision))
		b, err := os.ReadFile(refPath)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notCached("no cached revision %s (%s)", ref.Revision, refPath)
		}
		if err != nil {
			return nil, fmt.Errorf("hub: %s: %w", ref, err)
		}
		if commit = strings.TrimSpace(string(b)); !isCommit(commit) {
			return nil, fmt.Errorf("hub: %s: %s holds %q, not a commit hash", ref, refPath, commit)
		}
	}
	dir := filepath.Join(repoDir, "snapshots", commit)
	files, err := snapshotFiles(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notCached("no snapshot %s", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("hub: %s: %w", ref, err)
	}
	chosen, err := sel(files)
	if err != nil {
		return nil, notCached("snapshot %s is incomplete: %v", dir, err)
	}
	return &Snapshot{Dir: dir, Commit: commit, Files: chosen, Offline: why}, nil
}

// snapshotFiles lists the files under dir whose symlinks resolve, as
// slash-separated relative paths.
func snapshotFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if _, err := os.Stat(path); err != nil {
			return nil // a dangling link: its blob was deleted, so the file is not cached
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	return files, err
}

// unreachable reports whether err means the Hub could not be reached or
// could not answer, as opposed to an answer about the repository.
func unreachable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.status >= 500 || se.status == http.StatusTooManyRequests
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var netErr net.Error
	return errors.As(err, &opErr) || errors.As(err, &dnsErr) ||
		errors.As(err, &netErr) && netErr.Timeout() ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// repoInfo is the part of the Hub's /api/models/{repo}/revision/{revision}
// answer that Download uses.
type repoInfo struct {
	SHA      string    `json:"sha"`
	Siblings []sibling `json:"siblings"`
}

// A sibling is a file of the repository as listed with ?blobs=true.
type sibling struct {
	Name   string `json:"rfilename"`
	Size   *int64 `json:"size"`
	BlobID string `json:"blobId"` // git blob sha1
	LFS    *struct {
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size"`
	} `json:"lfs"`
}

// listing resolves the revision to a commit and lists its files.
func (d *downloader) listing(ctx context.Context) (*repoInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	u := d.endpoint() + "/api/models/" + d.ref.Repo + "/revision/" + url.PathEscape(d.ref.Revision) + "?blobs=true"
	resp, err := d.get(ctx, u, 0)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, newStatusError(resp)
	}
	var info repoInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return nil, fmt.Errorf("GET %s: decoding the listing: %w", u, err)
	}
	if !isCommit(info.SHA) {
		return nil, fmt.Errorf("GET %s: listing gives commit %q, not a 40-hex hash", u, info.SHA)
	}
	if isCommit(d.ref.Revision) && info.SHA != d.ref.Revision {
		return nil, fmt.Errorf("GET %s: asked for commit %s, listing gives %s", u, d.ref.Revision, info.SHA)
	}
	return &info, nil
}

// A statusError is an HTTP error answer from the Hub.
type statusError struct {
	url    string
	status int
	text   string // resp.Status, such as "404 Not Found"
	code   string // the Hub's X-Error-Code, such as "RepoNotFound"
	msg    string // the Hub's X-Error-Message or JSON "error"
}

func newStatusError(resp *http.Response) *statusError {
	e := &statusError{
		url:    resp.Request.URL.Redacted(),
		status: resp.StatusCode,
		text:   resp.Status,
		code:   resp.Header.Get("X-Error-Code"),
		msg:    resp.Header.Get("X-Error-Message"),
	}
	if e.msg == "" {
		var body struct{ Error string }
		if json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&body) == nil {
			e.msg = body.Error
		}
	}
	return e
}

func (e *statusError) Error() string {
	s := "GET " + e.url + ": " + e.text
	if e.msg != "" {
		s += ": " + e.msg
	}
	if kind := e.Unwrap(); kind != nil {
		s = kind.Error() + " (" + s + ")"
	}
	return s
}

// Unwrap returns the sentinel error matching the Hub's X-Error-Code, if any.
func (e *statusError) Unwrap() error {
	switch e.code {
	case "RepoNotFound":
		return ErrRepoNotFound
	case "RevisionNotFound":
		return ErrRevisionNotFound
	case "GatedRepo":
		return ErrGated
	}
	return nil
}
