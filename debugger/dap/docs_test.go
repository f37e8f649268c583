package dap

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The launch configuration in docs/debugging.md is valid JSON for the
// debug type the VS Code manifest registers, with only attributes the
// manifest (and the server's launch) knows, and the manifest's adapter
// script exists and is executable.
func TestEditorConfigs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/debugging.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(doc, -1)
	require.Len(t, blocks, 1, "one launch.json in docs/debugging.md")
	var launch struct {
		Configurations []map[string]any `json:"configurations"`
	}
	require.NoError(t, json.Unmarshal(blocks[0][1], &launch))
	require.NotEmpty(t, launch.Configurations)

	var manifest struct {
		Contributes struct {
			Debuggers []struct {
				Type                    string `json:"type"`
				Program                 string `json:"program"`
				ConfigurationAttributes struct {
					Launch struct {
						Properties map[string]any `json:"properties"`
					} `json:"launch"`
				} `json:"configurationAttributes"`
			} `json:"debuggers"`
		} `json:"contributes"`
	}
	b, err := os.ReadFile("../../editors/vscode/package.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &manifest))
	require.Len(t, manifest.Contributes.Debuggers, 1)
	dbg := manifest.Contributes.Debuggers[0]
	st, err := os.Stat(filepath.Join("../../editors/vscode", dbg.Program))
	require.NoError(t, err)
	assert.NotZero(t, st.Mode()&0o111, "the adapter script is executable")

	known := map[string]bool{"type": true, "request": true, "name": true}
	for k := range dbg.ConfigurationAttributes.Launch.Properties {
		known[k] = true
	}
	for _, c := range launch.Configurations {
		assert.Equal(t, dbg.Type, c["type"])
		assert.Equal(t, "launch", c["request"])
		for k := range c {
			assert.True(t, known[k], "attribute %q is not in the manifest", k)
		}
		// What the server reads.
		raw, err := json.Marshal(c)
		require.NoError(t, err)
		var args launchArgs
		require.NoError(t, json.Unmarshal(raw, &args))
		assert.NotEmpty(t, args.Scenario)
	}
}
