package graph_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/pkg/graph"
)

func TestParseChangeTypes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      []string
		want    string
		invalid string // the ChangeTypeError's Value; "-" for none
	}{
		{[]string{"created"}, "created", "-"},
		{[]string{"created,created"}, "created", "-"},
		{[]string{"Updated, created", "CREATED,deleted,"}, "updated,created,deleted", "-"},
		{[]string{"created,moved"}, "", "moved"},
		{[]string{",", " "}, "", ""},
		{nil, "", ""},
	} {
		got, err := graph.ParseChangeTypes(tc.in...)
		var typed *graph.ChangeTypeError
		switch {
		case tc.invalid == "-" && (err != nil || strings.Join(got, ",") != tc.want):
			t.Errorf("ParseChangeTypes(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.invalid != "-" && (!errors.As(err, &typed) || typed.Value != tc.invalid || got != nil):
			t.Errorf("ParseChangeTypes(%q) = %q, %v; want a ChangeTypeError for %q", tc.in, got, err, tc.invalid)
		}
	}
	if !graph.HasChangeType("created, updated", "updated") || graph.HasChangeType("created", "deleted") {
		t.Error("HasChangeType")
	}
}

func TestResolveAlias(t *testing.T) {
	t.Parallel()
	if got, ok := graph.ResolveAlias("Inbox", ""); !ok || got != graph.InboxResource {
		t.Errorf("inbox for me: %q %v", got, ok)
	}
	if got, ok := graph.ResolveAlias("inbox", "a@b.com"); !ok || got != graph.UserInboxResource("a@b.com") {
		t.Errorf("inbox for a user: %q %v", got, ok)
	}
	if _, ok := graph.ResolveAlias("me/events", ""); ok || graph.IsAlias("me/events") || !graph.IsAlias(graph.InboxAlias) {
		t.Error("a resource path is no alias")
	}
}
