package journal

import (
	"bytes"
	"fmt"
	"os"
	"sort"
)

// ReadFile returns the entries of the journal at path that are not completed,
// oldest first, with their marks, without opening it for writing: it takes no
// lock and changes nothing, so another process may read a journal a running
// listener holds open (hookctl events list). A record torn at the end (one
// being written right now) is left out, and so is damage in the middle; a
// compaction renames a whole new file into place, so a reader sees the old
// file or the new one, never a mix.
func ReadFile(path string) ([]Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, nil
	}
	if !bytes.HasPrefix(data, []byte(magic)) {
		return nil, fmt.Errorf("%s is not a hookctl journal", path)
	}
	entries := map[uint64]*Entry{}
	completed := map[uint64]bool{}
	scan(data, func(rec record) {
		switch rec.kind {
		case kindEntry:
			if !completed[rec.seq] {
				entries[rec.seq] = &Entry{Seq: rec.seq, Data: rec.body}
			}
		case kindMark:
			if e, ok := entries[rec.seq]; ok {
				e.Marks = append(e.Marks, string(rec.body))
			}
		case kindComplete:
			completed[rec.seq] = true
			delete(entries, rec.seq)
		}
	})
	out := make([]Entry, 0, len(entries))
	for _, e := range entries {
		out = append(out, *e)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Seq < out[b].Seq })
	return out, nil
}
