// estargz-check is the Go side of ipcr's eStargz interop tests. It judges eStargz blobs with the
// reference implementation (github.com/containerd/stargz-snapshotter/estargz) and builds blobs
// with it, so the TypeScript writer and reader can each be checked against the other side.
//
//	estargz-check <blob> <source-tar> [--toc-digest D] [--diff-id D]
//	    Open <blob> as eStargz, verify the TOC digest and every chunk digest, and compare every
//	    entry (bytes, mode, uid/gid, names, modtime, link targets, xattrs, devices) with the
//	    source tar (plain or gzip). Prints a JSON summary; exits 1 naming the first difference.
//	estargz-check build <in.tar> <out> [--chunk-size N] [--level N] [--parallelism N] [--min-chunk-size N] [--prioritized a,b]
//	    Build an eStargz from a tar with estargz.Build and print its tocDigest, diffId and sizes.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/stargz-snapshotter/estargz"
	digest "github.com/opencontainers/go-digest"
)

func main() {
	args := os.Args[1:]
	var err error
	switch {
	case len(args) >= 1 && args[0] == "build":
		err = build(args[1:])
	case len(args) >= 2:
		err = check(args)
	default:
		err = errors.New("usage: estargz-check <blob> <source-tar> [--toc-digest D] [--diff-id D] | build <in.tar> <out> [options]")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "estargz-check: %v\n", err)
		os.Exit(1)
	}
}

// flags splits positional arguments from --name value pairs.
func flags(args []string) ([]string, map[string]string, error) {
	var pos []string
	named := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			pos = append(pos, a)
			continue
		}
		if k, v, ok := strings.Cut(a[2:], "="); ok {
			named[k] = v
			continue
		}
		if i+1 >= len(args) {
			return nil, nil, fmt.Errorf("flag %s needs a value", a)
		}
		named[a[2:]] = args[i+1]
		i++
	}
	return pos, named, nil
}

func build(args []string) error {
	pos, named, err := flags(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return errors.New("usage: estargz-check build <in.tar> <out> [--chunk-size N] [--level N] [--parallelism N] [--min-chunk-size N] [--prioritized a,b]")
	}
	in, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	var opts []estargz.Option
	for name, opt := range map[string]func(int) estargz.Option{
		"chunk-size":     estargz.WithChunkSize,
		"level":          estargz.WithCompressionLevel,
		"parallelism":    estargz.WithParallelism,
		"min-chunk-size": estargz.WithMinChunkSize,
	} {
		if v, ok := named[name]; ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("--%s: %v", name, err)
			}
			opts = append(opts, opt(n))
		}
	}
	if v, ok := named["prioritized"]; ok && v != "" {
		opts = append(opts, estargz.WithPrioritizedFiles(strings.Split(v, ",")))
	}
	started := time.Now()
	blob, err := estargz.Build(io.NewSectionReader(in, 0, st.Size()), opts...)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	defer blob.Close()
	out, err := os.Create(pos[1])
	if err != nil {
		return err
	}
	dgst := digest.Canonical.Digester()
	n, err := io.Copy(io.MultiWriter(out, dgst.Hash()), blob)
	if err != nil {
		out.Close()
		return fmt.Errorf("build: %w", err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	usize, err := blob.UncompressedSize()
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"tocDigest":        blob.TOCDigest().String(),
		"diffId":           blob.DiffID().String(),
		"digest":           dgst.Digest().String(),
		"compressedSize":   n,
		"uncompressedSize": usize,
		"seconds":          time.Since(started).Seconds(),
	})
}

type srcEntry struct {
	hdr    *tar.Header
	digest digest.Digest // of the payload, for regular files
}

func check(args []string) error {
	pos, named, err := flags(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return errors.New("usage: estargz-check <blob> <source-tar> [--toc-digest D] [--diff-id D]")
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	sr := io.NewSectionReader(f, 0, st.Size())
	r, err := estargz.Open(sr)
	if err != nil {
		return fmt.Errorf("open eStargz: %w", err)
	}
	var verifier estargz.TOCEntryVerifier
	if want, ok := named["toc-digest"]; ok {
		if verifier, err = r.VerifyTOC(digest.Digest(want)); err != nil {
			return fmt.Errorf("verify TOC: %w", err)
		}
	} else if verifier, err = r.Verifiers(); err != nil {
		return fmt.Errorf("TOC verifiers: %w", err)
	}

	src, order, err := readSource(pos[1])
	if err != nil {
		return fmt.Errorf("source tar: %w", err)
	}
	for _, name := range order {
		if err := compareEntry(r, verifier, name, src[name], src); err != nil {
			return fmt.Errorf("%q: %w", name, err)
		}
	}
	// Nothing in the blob that the source does not have (landmarks and implicit parents aside).
	var walk func(dir string, e *estargz.TOCEntry) error
	walk = func(dir string, e *estargz.TOCEntry) (err error) {
		e.ForeachChild(func(base string, child *estargz.TOCEntry) bool {
			name := path.Join(dir, base)
			if _, ok := src[name]; !ok && child.Type != "dir" && name != estargz.PrefetchLandmark && name != estargz.NoPrefetchLandmark {
				err = fmt.Errorf("%q is in the eStargz but not in the source tar", name)
				return false
			}
			if child.Type == "dir" {
				err = walk(name, child)
			}
			return err == nil
		})
		return err
	}
	root, ok := r.Lookup("")
	if !ok {
		return errors.New("no root directory in the TOC")
	}
	if err := walk("", root); err != nil {
		return err
	}

	layout, err := checkLayout(sr, r.TOCDigest())
	if err != nil {
		return fmt.Errorf("blob layout: %w", err)
	}
	if want, ok := named["diff-id"]; ok && want != layout.diffID.String() {
		return fmt.Errorf("diffID is %s, caller expected %s", layout.diffID, want)
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"ok":               true,
		"tocDigest":        r.TOCDigest().String(),
		"diffId":           layout.diffID.String(),
		"uncompressedSize": layout.size,
		"firstEntry":       layout.first,
		"entries":          len(order),
	})
}

// readSource indexes a tar (plain or gzip) by cleaned name; a later entry replaces an earlier one,
// as estargz.Build does.
func readSource(p string) (map[string]srcEntry, []string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var rd io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		rd = zr
	}
	tr := tar.NewReader(rd)
	src := map[string]srcEntry{}
	var order []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		name := clean(h.Name)
		switch name {
		case estargz.PrefetchLandmark, estargz.NoPrefetchLandmark, estargz.TOCTarName:
			continue
		}
		e := srcEntry{hdr: h}
		if h.Typeflag == tar.TypeReg {
			d := digest.Canonical.Digester()
			if _, err := io.Copy(d.Hash(), tr); err != nil {
				return nil, nil, err
			}
			e.digest = d.Digest()
		}
		if _, seen := src[name]; !seen {
			order = append(order, name)
		}
		src[name] = e
	}
	return src, order, nil
}

func clean(name string) string { return strings.TrimPrefix(path.Clean("/"+name), "/") }

var tocTypes = map[byte]string{
	tar.TypeReg: "reg", tar.TypeDir: "dir", tar.TypeSymlink: "symlink", tar.TypeLink: "hardlink",
	tar.TypeChar: "char", tar.TypeBlock: "block", tar.TypeFifo: "fifo",
}

func compareEntry(r *estargz.Reader, v estargz.TOCEntryVerifier, name string, s srcEntry, all map[string]srcEntry) error {
	h := s.hdr
	e, ok := r.Lookup(name)
	if !ok {
		return errors.New("missing from the eStargz")
	}
	if h.Typeflag == tar.TypeLink {
		// Lookup follows hard links, so the link must land on its target's entry.
		target, ok := r.Lookup(h.Linkname)
		if !ok {
			return fmt.Errorf("hard link target %q missing", h.Linkname)
		}
		if target != e {
			return fmt.Errorf("hard link resolves to %q, want %q", e.Name, clean(h.Linkname))
		}
		s = all[clean(h.Linkname)]
		h = s.hdr
		if h == nil {
			return nil // target not in the source tar: nothing more to compare
		}
	}
	if want := tocTypes[h.Typeflag]; e.Type != want {
		return fmt.Errorf("type %q, want %q", e.Type, want)
	}
	if e.Mode != h.Mode {
		return fmt.Errorf("mode %o, want %o", e.Mode, h.Mode)
	}
	if e.UID != h.Uid || e.GID != h.Gid {
		return fmt.Errorf("uid/gid %d/%d, want %d/%d", e.UID, e.GID, h.Uid, h.Gid)
	}
	if e.Uname != h.Uname || e.Gname != h.Gname {
		return fmt.Errorf("user/group name %q/%q, want %q/%q", e.Uname, e.Gname, h.Uname, h.Gname)
	}
	wantTime := time.Time{}
	if !h.ModTime.IsZero() && h.ModTime.Unix() != 0 {
		wantTime = h.ModTime.UTC().Round(time.Second)
	}
	if !e.ModTime().Equal(wantTime) {
		return fmt.Errorf("modtime %v, want %v", e.ModTime(), wantTime)
	}
	if (h.Typeflag == tar.TypeSymlink) && e.LinkName != h.Linkname {
		return fmt.Errorf("link target %q, want %q", e.LinkName, h.Linkname)
	}
	if h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock {
		if int64(e.DevMajor) != h.Devmajor || int64(e.DevMinor) != h.Devminor {
			return fmt.Errorf("device %d:%d, want %d:%d", e.DevMajor, e.DevMinor, h.Devmajor, h.Devminor)
		}
	}
	wantX := map[string]string{}
	for k, val := range h.PAXRecords {
		if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			wantX[x] = val
		}
	}
	if len(e.Xattrs) != len(wantX) {
		return fmt.Errorf("%d xattrs, want %d", len(e.Xattrs), len(wantX))
	}
	for k, val := range wantX {
		if got, ok := e.Xattrs[k]; !ok || string(got) != val {
			return fmt.Errorf("xattr %q is %q, want %q", k, got, val)
		}
	}
	if h.Typeflag != tar.TypeReg {
		return nil
	}
	if e.Size != h.Size {
		return fmt.Errorf("size %d, want %d", e.Size, h.Size)
	}
	if e.Digest != s.digest.String() {
		return fmt.Errorf("TOC digest %s, want %s", e.Digest, s.digest)
	}
	return checkContent(r, v, name, e, s.digest)
}

// checkContent reads the file chunk by chunk, checking each chunk against its TOC digest the way
// the snapshotter does, and the whole against the source's digest.
func checkContent(r *estargz.Reader, v estargz.TOCEntryVerifier, name string, e *estargz.TOCEntry, want digest.Digest) error {
	fr, err := r.OpenFile(name)
	if err != nil {
		return err
	}
	whole := digest.Canonical.Digester()
	for off := int64(0); off < e.Size; {
		ce, ok := r.ChunkEntryForOffset(name, off)
		if !ok {
			return fmt.Errorf("no chunk at offset %d", off)
		}
		if ce.ChunkOffset != off || ce.ChunkSize <= 0 {
			return fmt.Errorf("chunk at %d has offset %d size %d", off, ce.ChunkOffset, ce.ChunkSize)
		}
		cv, err := v.Verifier(ce)
		if err != nil {
			return fmt.Errorf("chunk at %d: %w", off, err)
		}
		// One read per chunk: the Go reader inflates from the member start on every ReadAt.
		buf := make([]byte, ce.ChunkSize)
		if _, err := fr.ReadAt(buf, ce.ChunkOffset); err != nil && !(err == io.EOF && ce.ChunkOffset+ce.ChunkSize == e.Size) {
			return fmt.Errorf("reading chunk at %d: %w", off, err)
		}
		cv.Write(buf)
		whole.Hash().Write(buf)
		if !cv.Verified() {
			return fmt.Errorf("chunk at %d does not match its chunkDigest", off)
		}
		off += ce.ChunkSize
	}
	if got := whole.Digest(); got != want {
		return fmt.Errorf("content %s, want %s", got, want)
	}
	return nil
}

type layoutInfo struct {
	diffID digest.Digest
	size   int64
	first  string
}

// checkLayout decompresses the whole blob as one tar: its first entry must be a landmark or a
// prioritized file, its last stargz.index.json holding the TOC whose digest Open reported, and every
// TOC payload offset must start a gzip member.
func checkLayout(sr *io.SectionReader, tocDigest digest.Digest) (layoutInfo, error) {
	var info layoutInfo
	zr, err := gzip.NewReader(io.NewSectionReader(sr, 0, sr.Size()))
	if err != nil {
		return info, err
	}
	diff := digest.Canonical.Digester()
	counted := &countingWriter{}
	tr := tar.NewReader(io.TeeReader(zr, io.MultiWriter(diff.Hash(), counted)))
	var last string
	var tocJSON []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return info, err
		}
		if info.first == "" {
			info.first = h.Name
		}
		last = h.Name
		if h.Name == estargz.TOCTarName {
			if tocJSON, err = io.ReadAll(tr); err != nil {
				return info, err
			}
		}
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return info, err
	}
	if last != estargz.TOCTarName {
		return info, fmt.Errorf("last tar entry is %q, want %s", last, estargz.TOCTarName)
	}
	if got := digest.FromBytes(tocJSON); got != tocDigest {
		return info, fmt.Errorf("TOC entry in the tar stream has digest %s, footer TOC has %s", got, tocDigest)
	}
	var toc estargz.JTOC
	if err := json.Unmarshal(tocJSON, &toc); err != nil {
		return info, err
	}
	var offsets []int64
	for _, e := range toc.Entries {
		if e.Offset > 0 {
			offsets = append(offsets, e.Offset)
		}
	}
	sort.Slice(offsets, func(i, j int) bool { return offsets[i] < offsets[j] })
	for _, off := range offsets {
		var hdr [3]byte
		if _, err := sr.ReadAt(hdr[:], off); err != nil || !bytes.Equal(hdr[:], []byte{0x1f, 0x8b, 0x08}) {
			return info, fmt.Errorf("TOC offset %d does not start a gzip member", off)
		}
	}
	info.diffID = diff.Digest()
	info.size = counted.n
	return info, nil
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
