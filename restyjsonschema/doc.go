// Package restyjsonschema provides the Lua module resty.jsonschema: JSON Schema validation for request-validation.
package restyjsonschema
