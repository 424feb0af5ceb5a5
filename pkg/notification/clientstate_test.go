package notification_test

import (
	"encoding/base64"
	"testing"

	"github.com/hookctl/hookctl/pkg/notification"
)

func TestNewClientState(t *testing.T) {
	t.Parallel()
	a, err := notification.NewClientState()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := notification.NewClientState()
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 || len(a) > 128 || a == b {
		t.Errorf("clientState %q (%d bytes, %v), second %q", a, len(raw), err, b)
	}
}
