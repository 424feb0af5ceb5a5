package connector

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ConnectionParameterTypes are the types a connection parameter may have.
var ConnectionParameterTypes = []string{"string", "securestring", "int", "bool", "oauthSetting"}

var brandColor = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)

// LintProperties checks an apiProperties.json: the properties object, its
// iconBrandColor, and the types of its connection parameters. Trailing
// commas are warnings, as in definitions; a file that is not JSON is a
// *LoadError.
func LintProperties(data []byte) ([]Finding, error) {
	stripped, commas := stripTrailingCommas(data)
	findings := trailingCommaFindings(commas)
	var doc map[string]any
	if err := json.Unmarshal(stripped, &doc); err != nil {
		return nil, &LoadError{fmt.Errorf("not a JSON object: %s", describeJSONError(stripped, err))}
	}
	properties, ok := doc["properties"].(map[string]any)
	if !ok {
		return append(findings, errorAt(RulePropertiesInvalid, "/properties", "apiProperties.json must have a \"properties\" object")), nil
	}
	switch color, isString := properties["iconBrandColor"].(string); {
	case properties["iconBrandColor"] == nil:
		findings = append(findings, errorAt(RuleIconBrandColorMissing, "/properties", "iconBrandColor is required: the portal shows the connector's icon on it"))
	case !isString || !brandColor.MatchString(color):
		findings = append(findings, errorAt(RuleIconBrandColorInvalid, "/properties/iconBrandColor", "iconBrandColor %s is not a colour such as \"#007ee5\"", jsonText(properties["iconBrandColor"])))
	}
	if raw, present := properties["connectionParameters"]; present {
		parameters, ok := raw.(map[string]any)
		if !ok {
			findings = append(findings, errorAt(RulePropertiesInvalid, "/properties/connectionParameters", "connectionParameters must be an object of named parameters"))
		}
		for _, name := range sortedKeys(parameters) {
			at := Pointer("properties", "connectionParameters", name)
			parameter, _ := parameters[name].(map[string]any)
			typ, _ := parameter["type"].(string)
			if !slices.Contains(ConnectionParameterTypes, typ) {
				findings = append(findings, errorAt(RuleConnectionParameterTypeInvalid, at+"/type", "connection parameter %q has type %s; it must be one of %s",
					name, jsonText(parameter["type"]), strings.Join(ConnectionParameterTypes, ", ")))
			}
		}
	}
	for _, member := range []string{"capabilities", "policyTemplateInstances"} {
		if raw, present := properties[member]; present {
			if _, isArray := raw.([]any); !isArray {
				findings = append(findings, errorAt(RulePropertiesInvalid, Pointer("properties", member), "%s must be an array", member))
			}
		}
	}
	for _, member := range []string{"publisher", "stackOwner"} {
		if _, isString := properties[member].(string); !isString {
			findings = append(findings, warningAt(RulePropertiesInvalid, Pointer("properties", member), "%s (a string) is needed for certification", member))
		}
	}
	return findings, nil
}
