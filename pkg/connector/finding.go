// Package connector checks Power Automate custom-connector definitions with
// webhook triggers and stands in for the platform against the API behind them.
package connector

import (
	"strings"
)

// Severity is how much a finding matters: an error breaks the connector in
// the portal or at run time, a warning is what certification would ask to fix.
type Severity string

// The severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Rule names a check. Microsoft's validator names are kept where they exist
// (docs/power-automate.md says which are hookctl's own).
type Rule string

// Parsing and structure.
const (
	RuleTrailingComma  Rule = "TrailingComma"
	RuleSwaggerInvalid Rule = "SwaggerInvalid"
)

// Webhook-trigger rules.
const (
	RuleNotificationURLMissing     Rule = "WebhookOperationsMissingNotificationUrlProperty"
	RuleNotificationContentMissing Rule = "OperationMustHaveNotificationContentExtension"
	RuleNotificationURLPosition    Rule = "NotificationUrlNotAllowedInThisPosition"
	RuleNotificationURLNotInternal Rule = "NotificationUrlNotInternal"
	RuleNotificationURLNotRequired Rule = "NotificationUrlNotRequired"
	RuleNotificationURLNotString   Rule = "NotificationUrlNotString"
	RuleTriggerInvalid             Rule = "XMsTriggerInvalid"
	RuleWebhookMissingDelete       Rule = "WebhookMissingDeleteOperation"
	RuleWebhookMissingLocation     Rule = "WebhookMissingLocationHeader"
	RuleWebhookNot201              Rule = "WebhookNot201"
	RuleDeleteOperationNotInternal Rule = "DeleteOperationNotInternal"
)

// General rules.
const (
	RuleOperationIDRequired       Rule = "OperationIdRequired"
	RuleOperationIDNotUnique      Rule = "OperationIdNotUnique"
	RulePathParameterNotRequired  Rule = "PathParameterMustBeRequired"
	RuleOperationMissingPathParam Rule = "OperationMissingPathParameter"
	RuleSummaryTooLong            Rule = "OperationSummaryTooLong"
	RuleSchemeNotValid            Rule = "SchemeNotValid"
	RuleHostNameNotValid          Rule = "HostNameNotValid"
	RuleSummaryMissing            Rule = "OperationSummaryMissing"
	RuleSummaryNotCertifiable     Rule = "OperationSummaryNotCertifiable"
	RuleDescriptionMissing        Rule = "OperationDescriptionMissing"
	RuleDescriptionNotSentence    Rule = "OperationDescriptionNotSentence"
	RuleMultipleBodyParameters    Rule = "OperationMultipleBodyParameters"
)

// apiProperties.json rules.
const (
	RulePropertiesInvalid              Rule = "ApiPropertiesInvalid"
	RuleIconBrandColorMissing          Rule = "IconBrandColorMissing"
	RuleIconBrandColorInvalid          Rule = "IconBrandColorInvalid"
	RuleConnectionParameterTypeInvalid Rule = "ConnectionParameterTypeInvalid"
)

// Run-time rules: what `connector test` finds when the API breaks the contract.
const (
	RuleRegistrationNot201             Rule = "RegistrationNot201"
	RuleRegistrationNoLocation         Rule = "RegistrationMissingLocation"
	RuleRegistrationRelativeLocation   Rule = "RegistrationLocationNotAbsolute"
	RuleLocationMatchesNoDelete        Rule = "LocationMatchesNoDeleteOperation"
	RuleUnregisterFailed               Rule = "UnregisterFailed"
	RuleCallbackSignatureInvalid       Rule = "CallbackSignatureInvalid"
	RuleNotificationNotJSON            Rule = "NotificationNotJson"
	RuleNotificationNotArray           Rule = "BatchNotificationNotArray"
	RuleNotificationSchemaNotCheckable Rule = "NotificationSchemaNotCheckable"
)

// Finding is one broken rule, located by a JSON pointer into the definition
// (or, at run time, naming the request that broke it).
type Finding struct {
	Rule     Rule     `json:"rule"`
	Severity Severity `json:"severity"`
	Pointer  string   `json:"pointer"`
	Message  string   `json:"message"`
}

// Errors counts the error-level findings.
func Errors(findings []Finding) int {
	n := 0
	for _, f := range findings {
		if f.Severity == SeverityError {
			n++
		}
	}
	return n
}

// Pointer builds a JSON pointer (RFC 6901) from unescaped reference tokens:
// Pointer("paths", "/hooks", "post") is "/paths/~1hooks/post".
func Pointer(tokens ...string) string {
	var b strings.Builder
	for _, token := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(token, "~", "~0"), "/", "~1"))
	}
	return b.String()
}
