package deploy

import (
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// podSpec is the part of the StatefulSet these tests read: ports, mounts, secret volumes.
type podSpec struct {
	Spec struct {
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []struct {
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					VolumeMounts []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
						ReadOnly  bool   `yaml:"readOnly"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
				Volumes []struct {
					Name   string `yaml:"name"`
					Secret *struct {
						SecretName string `yaml:"secretName"`
					} `yaml:"secret"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type networkPolicy struct {
	Kind string `yaml:"kind"`
	Spec struct {
		PodSelector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"podSelector"`
		PolicyTypes []string `yaml:"policyTypes"`
		Ingress     []struct {
			From []struct {
				PodSelector *struct {
					MatchLabels map[string]string `yaml:"matchLabels"`
				} `yaml:"podSelector"`
				NamespaceSelector *struct {
					MatchLabels map[string]string `yaml:"matchLabels"`
				} `yaml:"namespaceSelector"`
			} `yaml:"from"`
			Ports []struct {
				Protocol string `yaml:"protocol"`
				Port     any    `yaml:"port"`
			} `yaml:"ports"`
		} `yaml:"ingress"`
	} `yaml:"spec"`
}

// k8sEnv is safetynet.env as a map.
func k8sEnv(t *testing.T) map[string]string {
	env := map[string]string{}
	for _, l := range strings.Split(readFile(t, "k8s/safetynet.env"), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	return env
}

// TestNetworkPolicy: the pods admit the gateway on the API port and Prometheus (namespace
// monitoring) on the metrics port, nothing else; the policy's ports are the container's ports
// for SAFETYNET_HTTP_ADDR and SAFETYNET_METRICS_ADDR, and the policy is in the kustomization.
func TestNetworkPolicy(t *testing.T) {
	var ss podSpec
	readYAML(t, "k8s/statefulset.yaml", &ss)
	var np networkPolicy
	readYAML(t, "k8s/networkpolicy.yaml", &np)
	if np.Kind != "NetworkPolicy" {
		t.Fatalf("networkpolicy.yaml holds a %q", np.Kind)
	}
	if !slices.Contains(kustomization(t).Resources, "networkpolicy.yaml") {
		t.Error("networkpolicy.yaml is not in the kustomization")
	}
	pod := ss.Spec.Template
	if len(np.Spec.PodSelector.MatchLabels) == 0 || !subset(np.Spec.PodSelector.MatchLabels, pod.Metadata.Labels) {
		t.Errorf("policy selects %v, the pods are %v", np.Spec.PodSelector.MatchLabels, pod.Metadata.Labels)
	}
	if !slices.Contains(np.Spec.PolicyTypes, "Ingress") {
		t.Errorf("policyTypes %v, want Ingress", np.Spec.PolicyTypes)
	}
	env := k8sEnv(t)
	if env["SAFETYNET_METRICS_ADDR"] == "" {
		t.Fatal("safetynet.env does not set SAFETYNET_METRICS_ADDR: /metrics would share the API port")
	}
	containerPorts := map[string]int{}
	var portNumbers []int
	for _, p := range pod.Spec.Containers[0].Ports {
		containerPorts[p.Name] = p.ContainerPort
		portNumbers = append(portNumbers, p.ContainerPort)
	}
	apiPort, _ := strconv.Atoi(httpPort(t, env["SAFETYNET_HTTP_ADDR"]))
	metricsPort, _ := strconv.Atoi(httpPort(t, env["SAFETYNET_METRICS_ADDR"]))
	if containerPorts["http"] != apiPort || containerPorts["metrics"] != metricsPort {
		t.Errorf("container ports %v, want http %d (SAFETYNET_HTTP_ADDR) and metrics %d (SAFETYNET_METRICS_ADDR)", containerPorts, apiPort, metricsPort)
	}

	// Each rule: who, and which container port (by number or name).
	allowed := map[string][]int{} // "gateway" / "monitoring" → ports
	var policyPorts []int
	for i, r := range np.Spec.Ingress {
		if len(r.From) == 0 || len(r.Ports) == 0 {
			t.Errorf("ingress rule %d admits every source or every port", i)
			continue
		}
		var ports []int
		for _, p := range r.Ports {
			n, isNum := p.Port.(int)
			if !isNum {
				n = containerPorts[p.Port.(string)]
			}
			if !slices.Contains(portNumbers, n) {
				t.Errorf("ingress rule %d: port %v is not a container port %v", i, p.Port, portNumbers)
			}
			if p.Protocol != "" && p.Protocol != "TCP" {
				t.Errorf("ingress rule %d: protocol %s", i, p.Protocol)
			}
			ports = append(ports, n)
			policyPorts = append(policyPorts, n)
		}
		for _, f := range r.From {
			switch {
			case f.PodSelector != nil && f.NamespaceSelector == nil && f.PodSelector.MatchLabels["app.kubernetes.io/component"] == "gateway":
				allowed["gateway"] = append(allowed["gateway"], ports...)
			case f.NamespaceSelector != nil && f.PodSelector == nil && f.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "monitoring":
				allowed["monitoring"] = append(allowed["monitoring"], ports...)
			default:
				t.Errorf("ingress rule %d admits %+v: want the gateway pods or the monitoring namespace only", i, f)
			}
		}
	}
	if !slices.Equal(allowed["gateway"], []int{apiPort}) {
		t.Errorf("the gateway may reach ports %v, want the API port %d only", allowed["gateway"], apiPort)
	}
	if !slices.Equal(allowed["monitoring"], []int{metricsPort}) {
		t.Errorf("Prometheus may reach ports %v, want the metrics port %d only", allowed["monitoring"], metricsPort)
	}
	slices.Sort(policyPorts)
	slices.Sort(portNumbers)
	if got := slices.Compact(slices.Clone(policyPorts)); !slices.Equal(got, portNumbers) {
		t.Errorf("the policy's ports %v are not the container's ports %v", got, portNumbers)
	}
}

// TestCallersFileFromSecret: SAFETYNET_API_TOKENS_FILE names a file on a read-only mount of the
// Secret safetynet-callers, whose example (secret.example.yaml) has that key and placeholder
// tokens only; the env Secret no longer carries the tokens.
func TestCallersFileFromSecret(t *testing.T) {
	env := k8sEnv(t)
	file := env["SAFETYNET_API_TOKENS_FILE"]
	if file == "" {
		t.Fatal("safetynet.env does not set SAFETYNET_API_TOKENS_FILE")
	}
	var ss podSpec
	readYAML(t, "k8s/statefulset.yaml", &ss)
	secretOf := map[string]string{}
	for _, v := range ss.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			secretOf[v.Name] = v.Secret.SecretName
		}
	}
	secretName := ""
	for _, m := range ss.Spec.Template.Spec.Containers[0].VolumeMounts {
		if s, ok := secretOf[m.Name]; ok && m.MountPath == path.Dir(file) {
			if !m.ReadOnly {
				t.Errorf("callers mount %s is not read-only", m.MountPath)
			}
			secretName = s
		}
	}
	if secretName == "" {
		t.Fatalf("no Secret volume is mounted at %s (SAFETYNET_API_TOKENS_FILE %s)", path.Dir(file), file)
	}
	dec := yaml.NewDecoder(strings.NewReader(readFile(t, "k8s/secret.example.yaml")))
	found := false
	for {
		var d k8sDoc
		if err := dec.Decode(&d); err != nil {
			break
		}
		if d.Kind != "Secret" {
			continue
		}
		if _, ok := d.StringData["SAFETYNET_API_TOKENS"]; ok {
			t.Errorf("Secret %s still carries SAFETYNET_API_TOKENS: the callers live in %s", d.Metadata.Name, secretName)
		}
		if d.Metadata.Name != secretName {
			continue
		}
		found = true
		callers := d.StringData[path.Base(file)]
		if callers == "" {
			t.Fatalf("example Secret %s has no key %s", secretName, path.Base(file))
		}
		for _, l := range strings.Split(callers, "\n") {
			if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			if f := strings.Split(l, ":"); len(f) < 2 || !strings.Contains(f[1], "CHANGE-ME") {
				t.Errorf("example caller %q: want a CHANGE-ME placeholder token (refused at start-up)", l)
			}
		}
	}
	if !found {
		t.Errorf("secret.example.yaml has no Secret %s", secretName)
	}
}
