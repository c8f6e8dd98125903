package hub

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hiertune/hiertune/internal/flock"
)

// maxAttempts bounds the requests made for one file, as huggingface_hub's
// http_get retries an interrupted download five times.
const maxAttempts = 5

// retryDelay is how long fill waits before retrying a request that made no
// progress; it waits one retryDelay more before each later attempt. (A
// variable so that tests of failing servers need not wait.)
var retryDelay = 500 * time.Millisecond

// errRestart asks for the download to be retried from the start at once.
var errRestart = errors.New("server cannot resume the download; restarting")

// A downloader fetches the files of one repository for Client.Download.
type downloader struct {
	*Client
	http    *http.Client
	repoDir string // {cache}/models--org--name
	ref     Ref
}

func (d *downloader) endpoint() string {
	return strings.TrimRight(d.Endpoint, "/")
}

// get sends a GET request for u carrying the token, asking for the bytes
// from offset on when from > 0.
func (d *downloader) get(ctx context.Context, u string, from int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	// Byte counts and hashes are of the stored file, so no transfer encoding.
	req.Header.Set("Accept-Encoding", "identity")
	if d.Token != "" {
		req.Header.Set("Authorization", "Bearer "+d.Token)
	}
	if from > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(from, 10)+"-")
	}
	return d.http.Do(req)
}

// A blob describes a file's content as the listing gives it.
type blob struct {
	etag string // the blob's name in the cache: LFS sha256, else git blob sha1
	size int64
	lfs  bool
}

func blobOf(s *sibling) (blob, error) {
	if err := checkFilename(s.Name); err != nil {
		return blob{}, err
	}
	if s.LFS != nil {
		if !isHex(s.LFS.SHA256, 64) || s.LFS.Size < 0 {
			return blob{}, fmt.Errorf("%s: listing gives bad LFS sha256 %q or size %d", s.Name, s.LFS.SHA256, s.LFS.Size)
		}
		return blob{etag: s.LFS.SHA256, size: s.LFS.Size, lfs: true}, nil
	}
	if !isHex(s.BlobID, 40) || s.Size == nil || *s.Size < 0 {
		return blob{}, fmt.Errorf("%s: listing gives no valid blobId and size (does the endpoint support ?blobs=true?)", s.Name)
	}
	return blob{etag: s.BlobID, size: *s.Size}, nil
}

// newHash returns the hash whose hex digest names the blob: sha256 of the
// content for LFS files, git's sha1 of "blob {size}\x00" + content otherwise.
func (b blob) newHash() hash.Hash {
	if b.lfs {
		return sha256.New()
	}
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", b.size)
	return h
}

func (b blob) hashName() string {
	if b.lfs {
		return "sha256"
	}
	return "git blob sha1"
}

// checkFilename checks that name, from the Hub's listing, is a relative
// slash-separated path that stays inside the snapshot directory.
func checkFilename(name string) error {
	if name == "" || strings.ContainsAny(name, "\\\x00") {
		return fmt.Errorf("bad file name %q in listing", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("bad file name %q in listing", name)
		}
	}
	return nil
}

// file makes sure the file s of commit is in the snapshot, downloading its
// blob unless the cache has it.
func (d *downloader) file(ctx context.Context, commit string, s *sibling) error {
	b, err := blobOf(s)
	if err != nil {
		return fmt.Errorf("hub: %s (commit %s): %w", d.ref, commit, err)
	}
	pointer := filepath.Join(d.repoDir, "snapshots", commit, filepath.FromSlash(s.Name))
	if fi, err := os.Stat(pointer); err == nil && fi.Mode().IsRegular() && fi.Size() == b.size {
		return nil
	}
	path := filepath.Join(d.repoDir, "blobs", b.etag)
	if !isComplete(path, b.size) {
		if err := d.blob(ctx, commit, s.Name, b, path); err != nil {
			return err
		}
	}
	if err := symlinkAtomic(path, pointer); err != nil {
		return fmt.Errorf("hub: %s: %w", d.ref, err)
	}
	return nil
}

func isComplete(path string, size int64) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Size() == size
}

// blob downloads the file name of commit into path under the blob's lock.
func (d *downloader) blob(ctx context.Context, commit, name string, b blob, path string) error {
	lockPath := filepath.Join(d.CacheDir, ".locks", filepath.Base(d.repoDir), b.etag+".lock")
	for _, dir := range []string{filepath.Dir(lockPath), filepath.Dir(path)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("hub: %s: %w", d.ref, err)
		}
	}
	lock, err := flock.Lock(ctx, lockPath)
	if err != nil {
		return fmt.Errorf("hub: %s: %s: %w", d.ref, name, err)
	}
	defer lock.Close()
	if isComplete(path, b.size) {
		return nil // another process downloaded it while we waited
	}
	u := d.endpoint() + "/" + d.ref.Repo + "/resolve/" + commit + "/" + escapePath(name)
	if err := d.fetch(ctx, u, name, b, path); err != nil {
		return fmt.Errorf("hub: %s: %s: %w", d.ref, name, err)
	}
	return nil
}

// escapePath escapes each element of a slash-separated path for a URL.
func escapePath(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// fetch downloads u into path+".incomplete", continuing a partial download
// left there, and renames it to path once its size and hash are verified.
// Content that fails verification is deleted; an interrupted download is
// kept for the next attempt to resume, unless it is empty.
func (d *downloader) fetch(ctx context.Context, u, name string, b blob, path string) error {
	tmp := path + ".incomplete"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	p := &partial{f: f, blob: b}
	if d.Progress != nil {
		p.progress = func(done int64) { d.Progress(name, done, b.size) }
	}
	err = p.resume()
	resumed := p.have > 0
	if err == nil {
		err = d.fill(ctx, u, p)
	}
	if err == nil && p.digest() != b.etag && resumed {
		// The bytes an earlier download left may be the bad ones: start over once.
		if err = p.reset(); err == nil {
			err = d.fill(ctx, u, p)
		}
	}
	if err == nil && p.digest() != b.etag {
		err = &mismatchError{what: b.hashName(), want: b.etag, got: p.digest()}
	}
	var mismatch *mismatchError
	if errors.As(err, &mismatch) {
		f.Close()
		if rmErr := os.Remove(tmp); rmErr != nil {
			return fmt.Errorf("%w; removing the bad download: %v", err, rmErr)
		}
		return fmt.Errorf("%w; download discarded", err)
	}
	if err != nil {
		// A download that failed before its first byte (a 404, a 500, a
		// redirect loop) leaves nothing to resume: remove its empty file.
		if fi, statErr := f.Stat(); statErr == nil && fi.Size() == 0 {
			f.Close()
			os.Remove(tmp)
		}
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// fill downloads the rest of p, retrying interrupted transfers.
func (d *downloader) fill(ctx context.Context, u string, p *partial) error {
	var err error
	for attempt := 1; err == nil && p.have < p.size; attempt++ {
		before := p.have
		err = d.fetchOnce(ctx, u, p)
		if err == nil || ctx.Err() != nil || attempt == maxAttempts {
			continue
		}
		switch {
		case errors.Is(err, errRestart):
			err = nil
		case unreachable(err):
			if p.have == before {
				err = sleep(ctx, time.Duration(attempt)*retryDelay)
			} else {
				err = nil // progress was made: resume at once
			}
		}
	}
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fetchOnce makes one request for the rest of p and appends the body to it.
func (d *downloader) fetchOnce(ctx context.Context, u string, p *partial) error {
	resp, err := d.get(ctx, u, p.have)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if p.have > 0 {
			// The server ignored Range and sends the whole file: take it.
			if err := p.reset(); err != nil {
				return err
			}
		}
		if resp.ContentLength >= 0 && resp.ContentLength != p.size {
			return &mismatchError{what: "size", want: strconv.FormatInt(p.size, 10), got: strconv.FormatInt(resp.ContentLength, 10)}
		}
	case http.StatusPartialContent:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != p.have {
			if err := p.reset(); err != nil {
				return err
			}
			return errRestart
		}
		if total >= 0 && total != p.size {
			return &mismatchError{what: "size", want: strconv.FormatInt(p.size, 10), got: strconv.FormatInt(total, 10)}
		}
	case http.StatusRequestedRangeNotSatisfiable:
		// The server's file ends before our partial one does, so that is not
		// a prefix of it.
		if err := p.reset(); err != nil {
			return err
		}
		return errRestart
	default:
		return newStatusError(resp)
	}
	// Reading one byte past the size detects a file longer than listed.
	if _, err := io.Copy(p, io.LimitReader(resp.Body, p.size-p.have+1)); err != nil {
		return fmt.Errorf("GET %s: after %d of %d bytes: %w", resp.Request.URL.Redacted(), p.have, p.size, err)
	}
	if p.have > p.size {
		return &mismatchError{what: "size", want: strconv.FormatInt(p.size, 10), got: "more bytes"}
	}
	if p.have < p.size {
		return fmt.Errorf("GET %s: connection closed after %d of %d bytes: %w", resp.Request.URL.Redacted(), p.have, p.size, io.ErrUnexpectedEOF)
	}
	return nil
}

// parseContentRange parses "bytes START-END/TOTAL"; total is -1 for "*".
func parseContentRange(s string) (start, total int64, ok bool) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, false
	}
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, false
	}
	first, _, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	if tot == "*" {
		return start, -1, true
	}
	total, err = strconv.ParseInt(tot, 10, 64)
	if err != nil || total < 0 {
		return 0, 0, false
	}
	return start, total, true
}

// A mismatchError reports downloaded content that differs from the listing.
type mismatchError struct {
	what, want, got string
}

func (e *mismatchError) Error() string {
	return fmt.Sprintf("%s mismatch: expected %s, got %s", e.what, e.want, e.got)
}

// A partial is a download in progress: the file holding the bytes received
// so far and their running hash.
type partial struct {
	blob
	f        *os.File // opened with O_APPEND
	hash     hash.Hash
	have     int64
	progress func(done int64) // nil for none
}

// resume hashes the bytes a previous download left in the file, or empties
// a file longer than the blob.
func (p *partial) resume() error {
	fi, err := p.f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() > p.size {
		return p.reset()
	}
	p.hash = p.newHash()
	if _, err := io.Copy(p.hash, io.NewSectionReader(p.f, 0, fi.Size())); err != nil {
		return err
	}
	p.have = fi.Size()
	if p.progress != nil {
		p.progress(p.have)
	}
	return nil
}

func (p *partial) digest() string {
	return hex.EncodeToString(p.hash.Sum(nil))
}

func (p *partial) reset() error {
	if err := p.f.Truncate(0); err != nil {
		return err
	}
	p.hash = p.newHash()
	p.have = 0
	return nil
}

func (p *partial) Write(b []byte) (int, error) {
	n, err := p.f.Write(b)
	p.hash.Write(b[:n])
	p.have += int64(n)
	if p.progress != nil {
		p.progress(p.have)
	}
	return n, err
}

// symlinkAtomic makes link a relative symlink to target, replacing whatever
// link was, so a concurrent reader never sees it missing or half made.
func symlinkAtomic(target, link string) error {
	dir := filepath.Dir(link)
	rel, err := filepath.Rel(dir, target)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+filepath.Base(link)+"."+rand.Text()+".tmp")
	if err := os.Symlink(rel, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// writeFileAtomic replaces the file at path with one holding data.
func writeFileAtomic(path, data string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.WriteString(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
