package connector

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxSummaryLength is the longest operation summary the portal accepts;
// certification asks for MaxCertifiedSummaryLength.
const (
	MaxSummaryLength          = 120
	MaxCertifiedSummaryLength = 80
)

var certifiableSummary = regexp.MustCompile(`^[\p{L}\p{N} ()]*$`)

// Lint checks a definition as Microsoft's validator would: the Swagger
// structure, the webhook-trigger rules and the general rules. Findings come
// in a stable order: structure, then operation by operation.
func Lint(ctx context.Context, d *Definition) []Finding {
	findings := d.validateStructure(ctx)
	findings = append(findings, d.documentRules()...)
	seen := map[string]string{}
	var deletes []*operation
	for _, o := range d.operations() {
		findings = append(findings, d.operationRules(o, seen)...)
		if _, isTrigger := o.op.Extensions["x-ms-trigger"]; isTrigger {
			findings = append(findings, d.triggerRules(o)...)
			if del := d.likeliestDelete(o); del != nil && !slices.ContainsFunc(deletes, func(seen *operation) bool { return seen.pointer == del.pointer }) {
				deletes = append(deletes, del)
			}
		}
	}
	// Several triggers may share one DELETE: each is named once.
	for _, del := range deletes {
		if !isInternal(del.op.Extensions) {
			findings = append(findings, warningAt(RuleDeleteOperationNotInternal, del.pointer,
				"the DELETE that unregisters webhooks should be \"x-ms-visibility\": \"internal\", so that makers do not see it as an action"))
		}
	}
	return findings
}

func errorAt(rule Rule, pointer, format string, args ...any) Finding {
	return Finding{Rule: rule, Severity: SeverityError, Pointer: pointer, Message: fmt.Sprintf(format, args...)}
}

func warningAt(rule Rule, pointer, format string, args ...any) Finding {
	return Finding{Rule: rule, Severity: SeverityWarning, Pointer: pointer, Message: fmt.Sprintf(format, args...)}
}

// documentRules checks host and schemes.
func (d *Definition) documentRules() []Finding {
	var findings []Finding
	if !validHost(d.Doc.Host) {
		findings = append(findings, errorAt(RuleHostNameNotValid, "/host", "host %q is not a host name (with an optional port), such as api.contoso.com", d.Doc.Host))
	}
	if len(d.Doc.Schemes) == 0 {
		findings = append(findings, errorAt(RuleSchemeNotValid, "/schemes", "no scheme is declared: custom connectors call the API over https"))
	}
	for i, scheme := range d.Doc.Schemes {
		if scheme != "https" {
			findings = append(findings, errorAt(RuleSchemeNotValid, "/schemes/"+itoa(i), "scheme %q is not https: custom connectors call the API over https only", scheme))
		}
	}
	return findings
}

var hostLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

func validHost(host string) bool {
	if h, port, err := net.SplitHostPort(host); err == nil {
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return false
		}
		host = h
	}
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if !hostLabel.MatchString(label) {
			return false
		}
	}
	return true
}

// operationRules are the general rules for one operation; seen maps each
// operationId to the pointer of its first use.
func (d *Definition) operationRules(o operation, seen map[string]string) []Finding {
	var findings []Finding
	id := o.op.OperationID
	switch first, duplicate := seen[id]; {
	case id == "":
		findings = append(findings, errorAt(RuleOperationIDRequired, o.pointer, "%s %s has no operationId: flows refer to operations by it", o.method, o.path))
	case duplicate:
		findings = append(findings, errorAt(RuleOperationIDNotUnique, o.pointer+"/operationId", "operationId %q is already used at %s", id, first))
	default:
		seen[id] = o.pointer + "/operationId"
	}

	summary := strings.TrimSpace(o.op.Summary)
	switch n := utf8.RuneCountInString(summary); {
	case n == 0:
		findings = append(findings, warningAt(RuleSummaryMissing, o.pointer, "no summary: the portal shows it as the operation's name"))
	case n > MaxSummaryLength:
		findings = append(findings, errorAt(RuleSummaryTooLong, o.pointer+"/summary", "summary is %d characters, more than %d", n, MaxSummaryLength))
	case n > MaxCertifiedSummaryLength || !certifiableSummary.MatchString(summary):
		findings = append(findings, warningAt(RuleSummaryNotCertifiable, o.pointer+"/summary",
			"certification wants summaries of at most %d characters, in letters, digits, spaces and parentheses", MaxCertifiedSummaryLength))
	}
	description := strings.TrimSpace(o.op.Description)
	switch {
	case description == "":
		findings = append(findings, warningAt(RuleDescriptionMissing, o.pointer, "no description: certification asks for one sentence saying what the operation does"))
	case !isSentence(description):
		findings = append(findings, warningAt(RuleDescriptionNotSentence, o.pointer+"/description", "description is not a sentence (a capital letter first, a full stop last)"))
	}

	params := d.parameters(o)
	inTemplate := templateNames(o.path)
	for _, p := range params {
		if p.In == "path" && !p.Required {
			findings = append(findings, errorAt(RulePathParameterNotRequired, p.pointer, "path parameter %q must have \"required\": true", p.Name))
		}
	}
	for _, name := range inTemplate {
		found := false
		for _, p := range params {
			found = found || (p.In == "path" && p.Name == name)
		}
		if !found {
			findings = append(findings, errorAt(RuleOperationMissingPathParam, o.pointer, "the path has {%s} but the operation has no path parameter of that name", name))
		}
	}
	return findings
}

func isSentence(text string) bool {
	first, _ := utf8.DecodeRuneInString(text)
	last, _ := utf8.DecodeLastRuneInString(text)
	return !unicode.IsLower(first) && strings.ContainsRune(".!?", last)
}

// triggerRules are the webhook-trigger rules for an operation with x-ms-trigger.
func (d *Definition) triggerRules(o operation) []Finding {
	var findings []Finding
	if kind := o.op.Extensions["x-ms-trigger"]; kind != "single" && kind != "batch" {
		findings = append(findings, errorAt(RuleTriggerInvalid, o.pointer+"/x-ms-trigger", "x-ms-trigger is %s; it must be \"single\" or \"batch\"", jsonText(kind)))
	}
	if notificationContent(o) == nil {
		findings = append(findings, errorAt(RuleNotificationContentMissing, Pointer("paths", o.path),
			"the path has no x-ms-notification-content beside %s: the flow designer cannot show the trigger's outputs", strings.ToLower(o.method)))
	}

	fields := d.notificationURLFields(o)
	if len(fields) == 0 {
		findings = append(findings, errorAt(RuleNotificationURLMissing, o.pointer,
			"no body property has \"x-ms-notification-url\": true, so the platform has nowhere to put the callback URL"))
	}
	for _, f := range fields {
		switch {
		case !f.inBody || f.inArray:
			findings = append(findings, errorAt(RuleNotificationURLPosition, f.pointer, "x-ms-notification-url must mark a property of the body's object schema, not an array item or a non-body parameter"))
			continue
		case !f.isString:
			findings = append(findings, errorAt(RuleNotificationURLNotString, f.pointer, "the notification URL property must be of type string"))
		}
		if !f.internal {
			findings = append(findings, errorAt(RuleNotificationURLNotInternal, f.pointer, "the notification URL property (or a parent) must be \"x-ms-visibility\": \"internal\": the platform fills it, not the maker"))
		}
		if !f.required {
			findings = append(findings, errorAt(RuleNotificationURLNotRequired, f.pointer, "the notification URL property must be required along the whole chain, body parameter included"))
		}
	}

	created := o.op.Responses.Value("201")
	switch {
	case created == nil:
		findings = append(findings, errorAt(RuleWebhookNot201, o.pointer+"/responses", "no 201 response: the registration must answer 201 Created with a Location header"))
	case !hasHeader(created.Headers, "Location"):
		findings = append(findings, errorAt(RuleWebhookMissingLocation, o.pointer+"/responses/201", "the 201 response declares no Location header: the platform deletes the hook at that URL"))
	}
	if d.likeliestDelete(o) == nil {
		findings = append(findings, errorAt(RuleWebhookMissingDelete, o.pointer, "the definition has no DELETE operation, so hooks are created but never deleted"))
	}
	return findings
}

func hasHeader[V any](headers map[string]V, name string) bool {
	for key := range headers {
		if strings.EqualFold(key, name) {
			return true
		}
	}
	return false
}
