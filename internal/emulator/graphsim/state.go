package graphsim

import (
	"fmt"
	"sort"
)

// StateVersion is the version of State's layout.
const StateVersion = 1

// State is everything the Graph emulator holds, for `hookctl emulator --state`.
// It contains clientState secrets: store it 0600.
type State struct {
	Version       int            `json:"version"`
	Mailboxes     []MailboxState `json:"mailboxes"`
	Subscriptions []Subscription `json:"subscriptions"`
	// Items are events, contacts, drive items, Teams messages, users and groups.
	Items   []Item `json:"items,omitempty"`
	ItemSeq int64  `json:"itemSeq,omitempty"`
}

// MailboxState is one user's folders and messages.
type MailboxState struct {
	UserID   string    `json:"userId"`
	Folders  []Folder  `json:"folders"`
	Messages []Message `json:"messages"`
	Removed  []Removal `json:"removed,omitempty"`
	Seq      int64     `json:"seq"`
}

// Snapshot copies the server's state.
func (s *Server) Snapshot() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	state := State{Version: StateVersion, Subscriptions: []Subscription{}}
	for userID, box := range s.mailboxes {
		mb := MailboxState{UserID: userID, Seq: box.seq, Removed: append([]Removal(nil), box.removed...)}
		for _, f := range box.folders {
			mb.Folders = append(mb.Folders, *f)
		}
		for _, m := range box.messages {
			mb.Messages = append(mb.Messages, *m)
		}
		state.Mailboxes = append(state.Mailboxes, mb)
	}
	sort.Slice(state.Mailboxes, func(i, j int) bool { return state.Mailboxes[i].UserID < state.Mailboxes[j].UserID })
	for _, sub := range s.subscriptions {
		state.Subscriptions = append(state.Subscriptions, *sub)
	}
	sort.Slice(state.Subscriptions, func(i, j int) bool { return state.Subscriptions[i].Created.Before(state.Subscriptions[j].Created) })
	for _, item := range s.items {
		state.Items = append(state.Items, *item)
	}
	sort.Slice(state.Items, func(i, j int) bool { return state.Items[i].Seq < state.Items[j].Seq })
	state.ItemSeq = s.itemSeq
	return state
}

// Restore replaces the server's mail and subscriptions with state. Mailboxes
// of users the tenant no longer has are skipped; expired subscriptions dropped.
func (s *Server) Restore(state State) error {
	if state.Version != StateVersion {
		return fmt.Errorf("state version %d is not supported (want %d): delete the state file to start afresh", state.Version, StateVersion)
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, mb := range state.Mailboxes {
		user, ok := s.cfg.Tenant.UserByIDOrUPN(mb.UserID)
		if !ok {
			continue
		}
		box := newMailbox(user)
		if len(mb.Folders) > 0 {
			// Keep the saved folder ids; well-known folders added since get new ones.
			fresh := box.folders
			box.folders = nil
			for _, f := range mb.Folders {
				folder := f
				box.folders = append(box.folders, &folder)
			}
			for _, f := range fresh {
				if box.folder(f.WellKnown) == nil {
					box.folders = append(box.folders, f)
				}
			}
		}
		for _, m := range mb.Messages {
			msg := m
			if box.folder(msg.FolderID) == nil {
				return fmt.Errorf("state file: message %s is in unknown folder %s", msg.ID, msg.FolderID)
			}
			box.messages = append(box.messages, &msg)
			box.byID[msg.ID] = &msg
		}
		box.removed = append([]Removal(nil), mb.Removed...)
		box.seq = mb.Seq
		s.mailboxes[user.ID] = box
	}
	if len(state.Items) > 0 {
		s.items = map[string]*Item{}
		for _, item := range state.Items {
			copied := item
			s.items[item.Collection+"/"+item.ID] = &copied
		}
		s.itemSeq = state.ItemSeq
	}
	s.subscriptions = map[string]*Subscription{}
	for _, sub := range state.Subscriptions {
		if now.Before(sub.Expiration) {
			copied := sub
			s.subscriptions[sub.ID] = &copied
		}
	}
	return nil
}
