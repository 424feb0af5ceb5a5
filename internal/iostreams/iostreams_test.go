package iostreams

import (
	"testing"

	_ "github.com/hookctl/hookctl/internal/golden"
)

func TestColorWanted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tty  bool
		env  map[string]string
		want bool
	}{
		{"terminal", true, nil, true},
		{"pipe", false, nil, false},
		{"NO_COLOR on terminal", true, map[string]string{"NO_COLOR": "1"}, false},
		{"empty NO_COLOR ignored", true, map[string]string{"NO_COLOR": ""}, true},
		{"CLICOLOR=0", true, map[string]string{"CLICOLOR": "0"}, false},
		{"TERM=dumb", true, map[string]string{"TERM": "dumb"}, false},
		{"CLICOLOR_FORCE on pipe", false, map[string]string{"CLICOLOR_FORCE": "1"}, true},
		{"CLICOLOR_FORCE=0", false, map[string]string{"CLICOLOR_FORCE": "0"}, false},
		{"NO_COLOR beats CLICOLOR_FORCE", false, map[string]string{"NO_COLOR": "1", "CLICOLOR_FORCE": "1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			if got := ColorWanted(tt.tty, lookup); got != tt.want {
				t.Errorf("ColorWanted(%v, %v) = %v, want %v", tt.tty, tt.env, got, tt.want)
			}
		})
	}
}

func TestSchemeOffLeavesTextAlone(t *testing.T) {
	s, _, _, _ := Test()
	if got := s.OutScheme().Green("ok"); got != "ok" {
		t.Errorf("Green with colour off = %q", got)
	}
	s.SetColor(true, false)
	if got := s.OutScheme().Green("ok"); got == "ok" {
		t.Errorf("Green with colour on was not painted")
	}
}
