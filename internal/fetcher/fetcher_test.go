package fetcher

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
)

// env is an emulator and a Graph client signed in as its first user.
type env struct {
	em    *emulator.Emulator
	graph *graph.Client
	user  string
}

func newEnv(t *testing.T, faults graphsim.Faults) *env {
	t.Helper()
	em, err := emulator.Start(context.Background(), emulator.Options{Graph: graphsim.Config{Faults: faults}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	user := em.Users[0].UserPrincipalName
	token, err := em.UserToken(user, "Mail.Read")
	if err != nil {
		t.Fatal(err)
	}
	client := &graph.Client{BaseURL: em.GraphURL, HTTP: em.HTTPClient(), Tokens: graph.TokenFunc(func(context.Context) (string, error) { return token, nil })}
	return &env{em: em, graph: client, user: user}
}

func TestFetcherBatchesUnderLoadAndGetsAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, graphsim.Faults{Latency: graphsim.Duration(20 * time.Millisecond)})
	var resources []string
	for i := range 45 {
		id, err := e.em.Graph.SendMail("", e.user, fmt.Sprintf("bulk %d", i), "x")
		if err != nil {
			t.Fatal(err)
		}
		resources = append(resources, "Users/"+e.em.Users[0].ID+"/Messages/"+id)
	}
	f := New(e.graph, Options{MaxInFlight: 1})
	defer f.Close()

	msg, err := f.Fetch(context.Background(), resources[0])
	if err != nil || msg.Subject != "bulk 0" {
		t.Fatalf("alone: %v %v", msg, err)
	}
	if s := f.Stats(); s.Gets != 1 || s.Batches != 0 {
		t.Errorf("a lone fetch: %+v", s)
	}

	f.Prefetch(resources[1:]...)
	for i, resource := range resources[1:] {
		msg, err := f.Fetch(context.Background(), resource)
		if err != nil || msg.Subject != fmt.Sprintf("bulk %d", i+1) {
			t.Fatalf("fetch %d: %v %v", i+1, msg, err)
		}
	}
	// 44 reads: the first alone (nothing else queued yet), then $batch calls of at most 20.
	s := f.Stats()
	if s.Messages != 45 || s.Batches < 2 || s.Gets+s.Batches > 5 {
		t.Errorf("under load: %+v", s)
	}
}

func TestPrefetchCollectionReadsOnlyGenuineChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, graphsim.Faults{})
	id, err := e.em.Graph.SendMail("", e.user, "genuine", "x")
	if err != nil {
		t.Fatal(err)
	}
	genuine := "Users/" + e.em.Users[0].ID + "/Messages/" + id
	body := fmt.Sprintf(`{"value":[
		{"subscriptionId":"sub","clientState":"forged","changeType":"created","resource":"Users/x/Messages/forged"},
		{"subscriptionId":"sub","clientState":"s3cret","changeType":"deleted","resource":"Users/x/Messages/deleted"},
		{"subscriptionId":"sub","clientState":"s3cret","lifecycleEvent":"missed"},
		{"subscriptionId":"sub","clientState":"s3cret","changeType":"created","resource":"Users/x/Events/event"},
		{"subscriptionId":"sub","clientState":"s3cret","changeType":"created","resource":%q}]}`, genuine)
	collection, err := notification.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	states := notification.NewClientStates()
	states.Set("sub", "s3cret")
	f := New(e.graph, Options{})
	defer f.Close()
	f.PrefetchCollection(collection, states)
	msg, err := f.Fetch(context.Background(), genuine)
	if err != nil || msg.Subject != "genuine" {
		t.Fatalf("prefetched: %v %v", msg, err)
	}
	// One read in all: the genuine message, claimed from the prefetch.
	if s := f.Stats(); s.Messages != 1 || s.Gets != 1 {
		t.Errorf("a forged, deleted, lifecycle or non-message notification made hookctl call Graph: %+v", s)
	}
}

func TestIsMessageResource(t *testing.T) {
	t.Parallel()
	for resource, want := range map[string]bool{
		"Users/u/Messages/AAMk=":        true,
		"me/messages/x":                 true,
		"Users/u/Messages/":             false,
		"Users/u/Events/x":              false,
		"Users/u/Messages/x/attachment": false,
	} {
		if got := IsMessageResource(resource); got != want {
			t.Errorf("IsMessageResource(%q) = %v", resource, got)
		}
	}
}
