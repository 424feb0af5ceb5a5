package journal

import (
	"context"
	"path/filepath"
	"testing"
)

// ReadFile sees what a journal another holder has open holds, without the
// lock: appended entries with their marks, completed ones left out.
func TestReadFileWhileOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "j")
	j, _, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range []string{"one", "two", "three"} {
		if _, err := j.Append(context.Background(), []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Mark(2, "seen"); err != nil {
		t.Fatal(err)
	}
	if err := j.Complete(1); err != nil {
		t.Fatal(err)
	}
	// An append commits the notes queued before it.
	if _, err := j.Append(context.Background(), []byte("four")); err != nil {
		t.Fatal(err)
	}
	entries, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || string(entries[0].Data) != "two" || len(entries[0].Marks) != 1 || entries[0].Marks[0] != "seen" || string(entries[2].Data) != "four" {
		t.Fatalf("ReadFile = %+v", entries)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}
