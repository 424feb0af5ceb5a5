// Package substore keeps the subscriptions hookctl created, with their
// clientState secrets, in subscriptions.json in the state directory.
//
// The file is 0600 in a 0700 directory and is replaced atomically; updates
// hold an exclusive lock on subscriptions.json.lock, so two hookctl processes
// (say `listen --subscribe` and `subscriptions renew`) never lose each other's
// changes.
package substore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/filelock"
)

// FileName is the store's file in the state directory.
const FileName = "subscriptions.json"

// CreatedByHookctl marks records hookctl wrote.
const CreatedByHookctl = "hookctl"

// formatVersion is written to the file; a newer one is refused rather than
// rewritten with fields lost.
const formatVersion = 1

// Record is one subscription hookctl created.
type Record struct {
	ID         string `json:"id"`
	Resource   string `json:"resource"`
	ChangeType string `json:"changeType"`
	// ClientState is the secret Graph echoes in each notification: compare it in
	// constant time and never print it.
	ClientState     string    `json:"clientState"`
	Expiry          time.Time `json:"expirationDateTime"`
	NotificationURL string    `json:"notificationUrl"`
	LifecycleURL    string    `json:"lifecycleNotificationUrl,omitempty"`
	// Profile is the sign-in profile the subscription was made with.
	Profile   string    `json:"profile"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
	// IncludeResourceData subscriptions get rich notifications, encrypted
	// with the certificate EncryptionCertificateID names: hookctl's own for the
	// profile, or the file EncryptionCertificateFile (whose key decrypts them).
	IncludeResourceData       bool   `json:"includeResourceData,omitempty"`
	EncryptionCertificateID   string `json:"encryptionCertificateId,omitempty"`
	EncryptionCertificateFile string `json:"encryptionCertificateFile,omitempty"`
	// DeltaLink is where a resync of Resource resumes (a messages delta query).
	DeltaLink string `json:"deltaLink,omitempty"`
}

// Expired reports whether the subscription's expiry has passed at now.
func (r Record) Expired(now time.Time) bool { return !r.Expiry.After(now) }

// file is the on-disk document.
type file struct {
	Version       int      `json:"version"`
	Subscriptions []Record `json:"subscriptions"`
}

// Store is the subscription store in one state directory.
type Store struct {
	// Path is the store file; its lock is Path + ".lock".
	Path string
	// Now stamps CreatedAt on new records (time.Now when nil).
	Now func() time.Time
}

// New returns the store in stateDir (config.StateDir). Nothing is touched
// until it is used.
func New(stateDir string) *Store {
	return &Store{Path: filepath.Join(stateDir, FileName)}
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// List returns every record, oldest first. A missing file is an empty store.
// Reading takes no lock: writers replace the file by rename, so a reader sees
// the old or the new file, never half of one.
func (s *Store) List(ctx context.Context) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.load()
}

// Get returns the record with id; ok is false when there is none.
func (s *Store) Get(ctx context.Context, id string) (rec Record, ok bool, err error) {
	recs, err := s.List(ctx)
	if err != nil {
		return Record{}, false, err
	}
	for _, r := range recs {
		if r.ID == id {
			return r, true, nil
		}
	}
	return Record{}, false, nil
}

// Put adds rec, or replaces the record with the same ID. CreatedAt and
// CreatedBy are filled in when empty.
func (s *Store) Put(ctx context.Context, rec Record) error {
	if strings.TrimSpace(rec.ID) == "" {
		return errors.New("subscription store: a record needs the subscription id")
	}
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = s.now().UTC()
	}
	if rec.CreatedBy == "" {
		rec.CreatedBy = CreatedByHookctl
	}
	return s.Update(ctx, func(recs []Record) ([]Record, error) {
		if i := slices.IndexFunc(recs, func(r Record) bool { return r.ID == rec.ID }); i >= 0 {
			recs[i] = rec
			return recs, nil
		}
		return append(recs, rec), nil
	})
}

// Delete removes the records with the given ids and returns how many it found.
func (s *Store) Delete(ctx context.Context, ids ...string) (int, error) {
	removed := 0
	err := s.Update(ctx, func(recs []Record) ([]Record, error) {
		kept := recs[:0]
		for _, r := range recs {
			if slices.Contains(ids, r.ID) {
				removed++
				continue
			}
			kept = append(kept, r)
		}
		return kept, nil
	})
	return removed, err
}

// Update runs fn on the current records under an exclusive lock shared with
// every hookctl process, and writes what it returns. If fn fails, nothing is
// written. Waiting for the lock ends with ctx (or after filelock.DefaultWait).
func (s *Store) Update(ctx context.Context, fn func([]Record) ([]Record, error)) error {
	lock, err := filelock.Acquire(ctx, s.Path+".lock", true)
	if err != nil {
		return fmt.Errorf("subscription store: %w", err)
	}
	defer lock.Release()
	recs, err := s.load()
	if err != nil {
		return err
	}
	next, err := fn(recs)
	if err != nil {
		return err
	}
	return s.save(next)
}

// load reads the file; a missing or empty file is an empty store.
func (s *Store) load() ([]Record, error) {
	data, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return []Record{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the subscription store: %w", err)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return []Record{}, nil
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("the subscription store %s is not valid JSON (%v): move it aside to start afresh", s.Path, err)
	}
	if f.Version > formatVersion {
		return nil, fmt.Errorf("the subscription store %s was written by a newer hookctl (format %d): upgrade hookctl", s.Path, f.Version)
	}
	if f.Subscriptions == nil {
		f.Subscriptions = []Record{}
	}
	return f.Subscriptions, nil
}

// save writes the records, oldest first, 0600 through an atomic rename.
func (s *Store) save(recs []Record) error {
	if recs == nil {
		recs = []Record{}
	}
	slices.SortStableFunc(recs, func(a, b Record) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	data, err := json.MarshalIndent(file{Version: formatVersion, Subscriptions: recs}, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the subscription store: %w", err)
	}
	if err := config.WriteFileAtomic(s.Path, append(data, '\n')); err != nil {
		return fmt.Errorf("saving the subscription store: %w", err)
	}
	return nil
}
