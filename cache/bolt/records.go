package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Bucket names and meta keys. The format version lets a later revokd refuse
// (or migrate) a file written in a layout it does not understand.
var (
	bucketCutoffs = []byte("cutoffs")
	bucketDenials = []byte("denials")
	bucketMeta    = []byte("meta")
	keyFormat     = []byte("format")
)

// formatVersion is the layout described in this file. Bump it when the
// encoding of keys or records changes.
const formatVersion = "1"

// recordSize is the length of every record: a time in Unix microseconds and
// the version that wrote it, both big-endian.
const recordSize = 16

// record is one stored row's value: the cutoff's before, or the denial's
// expiry, at microsecond precision, and the version that set it.
type record struct {
	micros  int64
	version int64
}

func (r record) encode() []byte {
	b := make([]byte, recordSize)
	binary.BigEndian.PutUint64(b[0:8], uint64(r.micros))
	binary.BigEndian.PutUint64(b[8:16], uint64(r.version))
	return b
}

func decodeRecord(b []byte) (record, error) {
	if len(b) != recordSize {
		return record{}, fmt.Errorf("record of %d bytes, want %d", len(b), recordSize)
	}
	return record{
		micros:  int64(binary.BigEndian.Uint64(b[0:8])),
		version: int64(binary.BigEndian.Uint64(b[8:16])),
	}, nil
}

// cutoffKey joins claim and value with a NUL. Claim names may not contain
// NUL (cache.CheckCutoff refuses them), so the first NUL always splits the key
// back into the same pair, whatever bytes the value holds.
func cutoffKey(claim, value string) []byte {
	k := make([]byte, 0, len(claim)+1+len(value))
	k = append(k, claim...)
	k = append(k, 0)
	return append(k, value...)
}

func splitCutoffKey(k []byte) (claim, value string, err error) {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return "", "", fmt.Errorf("cutoff key %q has no separator", k)
	}
	return string(k[:i]), string(k[i+1:]), nil
}
