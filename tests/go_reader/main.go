// Reads Argo workflow YAML files the way the KFP 1.0.x API server does and prints, for each file,
// one JSON line {"file": ..., "parameters": [...], "bytes": N} or {"file": ..., "error": ...}.
//
// The server (backend/src/apiserver/server/util.go ValidateWorkflow / ReadPipelineFile) calls
// github.com/ghodss/yaml.Unmarshal on the manifest into Argo's Workflow type; that is
// yaml.YAMLToJSON (gopkg.in/yaml.v2, YAML 1.1) followed by encoding/json. The parameters are
// then json.Marshal'ed to count them against MaxParameterBytes (template_util.go). We keep the
// same two steps with a struct holding only what is read here: spec.arguments.parameters with
// Argo 2.x's string fields, so a value go-yaml reads as a bool, number or null is an error.
package main

import (
	"encoding/json"
	"fmt"
	"io/ioutil"
	"os"

	"github.com/ghodss/yaml"
)

type parameter struct {
	Name    string  `json:"name"`
	Default *string `json:"default,omitempty"`
	Value   *string `json:"value,omitempty"`
}

type workflow struct {
	Spec struct {
		Arguments struct {
			Parameters []parameter `json:"parameters,omitempty"`
		} `json:"arguments,omitempty"`
	} `json:"spec"`
}

func read(path string) map[string]interface{} {
	result := map[string]interface{}{"file": path}
	data, err := ioutil.ReadFile(path)
	if err != nil {
		result["error"] = err.Error()
		return result
	}
	var wf workflow
	if err := yaml.Unmarshal(data, &wf); err != nil {
		result["error"] = err.Error()
		return result
	}
	params := wf.Spec.Arguments.Parameters
	if params == nil {
		params = []parameter{}
	}
	encoded, err := json.Marshal(params)
	if err != nil {
		result["error"] = err.Error()
		return result
	}
	result["parameters"] = params
	result["bytes"] = len(encoded)
	return result
}

func main() {
	out := json.NewEncoder(os.Stdout)
	for _, path := range os.Args[1:] {
		if err := out.Encode(read(path)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
