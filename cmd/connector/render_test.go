package connector

import (
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/pkg/connector"
)

func TestLintPrettyIsColouredOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	files := []fileFindings{{file: "/x/apiDefinition.swagger.json", findings: []connector.Finding{
		{Rule: connector.RuleWebhookNot201, Severity: connector.SeverityError, Pointer: "/paths/~1hooks/post/responses", Message: "no 201"},
		{Rule: connector.RuleDeleteOperationNotInternal, Severity: connector.SeverityWarning, Pointer: "/paths/~1hooks~1{id}/delete", Message: "visible"},
	}}}
	for _, colour := range []bool{false, true} {
		ios, _, out, _ := iostreams.Test()
		ios.SetColor(colour, colour)
		if err := writeLintPretty(ios, files); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out.String(), "\x1b["); got != colour {
			t.Errorf("colour %v: escape codes present = %v\n%q", colour, got, out.String())
		}
		plain := stripANSI(out.String())
		want := "apiDefinition.swagger.json\n  /paths/~1hooks/post\n    X WebhookNot201 no 201\n      at /paths/~1hooks/post/responses\n" +
			"  /paths/~1hooks~1{id}/delete\n    ! DeleteOperationNotInternal visible\n\nX 1 error, 1 warning\n"
		if plain != want {
			t.Errorf("colour %v:\n got %q\nwant %q", colour, plain, want)
		}
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
