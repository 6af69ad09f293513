package kubetest

import (
	"context"
	"fmt"
	"slices"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// rbacWait bounds how long UserConfig waits for the RBAC authorizer's
// informers to see a new binding; on an idle machine it takes milliseconds.
const rbacWait = 30 * time.Second

// UserConfig returns a config for a new user authenticated by a client
// certificate signed by the control plane's CA, bound cluster-wide to a
// ClusterRole holding exactly rules. The user is in no group besides
// system:authenticated, so anything rules do not grant is Forbidden. It waits
// until the authorizer grants the first verb and resource of every rule.
func (e *Env) UserConfig(ctx context.Context, name string, rules []rbacv1.PolicyRule) (*rest.Config, error) {
	user, err := e.testEnv.AddUser(envtest.User{Name: name}, e.Config)
	if err != nil {
		return nil, fmt.Errorf("add user %s: %w", name, err)
	}
	roleName := "kubetest:" + name
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: roleName}, Rules: rules}
	if _, err := e.Clientset.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create cluster role %s: %w", roleName, err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: roleName},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: roleName},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}},
	}
	if _, err := e.Clientset.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create cluster role binding %s: %w", roleName, err)
	}
	for _, r := range rules {
		if err := e.waitAllowed(ctx, name, r); err != nil {
			return nil, err
		}
	}
	return rest.CopyConfig(user.Config()), nil
}

// waitAllowed polls a SubjectAccessReview until the rule's first verb on its
// first resource is allowed for user.
func (e *Env) waitAllowed(ctx context.Context, user string, rule rbacv1.PolicyRule) error {
	if len(rule.Verbs) == 0 || len(rule.Resources) == 0 || len(rule.APIGroups) == 0 {
		return nil
	}
	attrs := &authorizationv1.ResourceAttributes{
		Verb:     rule.Verbs[0],
		Group:    rule.APIGroups[0],
		Resource: rule.Resources[0],
	}
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               user,
		Groups:             []string{"system:authenticated"},
		ResourceAttributes: attrs,
	}}
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, rbacWait, true, func(ctx context.Context) (bool, error) {
		got, err := e.Clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		return got.Status.Allowed, nil
	})
	if err != nil {
		return fmt.Errorf("wait for RBAC to allow %s %s %s.%s: %w", user, attrs.Verb, attrs.Resource, attrs.Group, err)
	}
	return nil
}

// ReadOnlyRules grants get, list and watch on every resource the server
// serves except the given ones, from live discovery (so installed CRDs are
// included). Subresources such as pods/log are left out. With it, a test
// builds an auditor that may read everything but, say, Secrets.
func (e *Env) ReadOnlyRules(except ...schema.GroupResource) ([]rbacv1.PolicyRule, error) {
	lists, err := e.Clientset.Discovery().ServerPreferredResources()
	// An aggregated API whose service is down fails its group's discovery
	// only (as in a real cluster); the groups that answered still count.
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("discover resources: %w", err)
	}
	byGroup := map[string]sets.Set[string]{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			return nil, fmt.Errorf("discovery group version %q: %w", list.GroupVersion, err)
		}
		for _, r := range list.APIResources {
			gr := schema.GroupResource{Group: gv.Group, Resource: r.Name}
			if slices.Contains(except, gr) || !slices.Contains(r.Verbs, "list") {
				continue
			}
			if byGroup[gv.Group] == nil {
				byGroup[gv.Group] = sets.New[string]()
			}
			byGroup[gv.Group].Insert(r.Name)
		}
	}
	groups := sets.List(sets.KeySet(byGroup))
	rules := make([]rbacv1.PolicyRule, 0, len(groups))
	for _, g := range groups {
		rules = append(rules, rbacv1.PolicyRule{
			APIGroups: []string{g},
			Resources: sets.List(byGroup[g]),
			Verbs:     []string{"get", "list", "watch"},
		})
	}
	return rules, nil
}

// Kubeconfig renders cfg (Env.Config or one from UserConfig) as a kubeconfig
// file with one context, "kubetest", for code that takes --kubeconfig. It
// carries the server CA, never insecure-skip-tls-verify.
func Kubeconfig(cfg *rest.Config) ([]byte, error) {
	const name = "kubetest"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
	}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
	}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	kc.CurrentContext = name
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return nil, fmt.Errorf("write kubeconfig: %w", err)
	}
	return data, nil
}
