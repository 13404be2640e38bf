"""Edge: TLS 1.2+ listeners, HTTP redirected to HTTPS, the public entry point behind a WAF running the managed OWASP
rule sets (blocking in prod), WAF logging."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .props import as_list, falsy_explicit, get, json_doc, name_of, namespace_of, truthy
from .rule import Family, Res

RULES = Family("edge")

AWS_LISTENER = "aws:lb/listener:Listener"
AWS_LB = "aws:lb/loadBalancer:LoadBalancer"
AWS_WEB_ACL = "aws:wafv2/webAcl:WebAcl"
AWS_WEB_ACL_ASSOC = "aws:wafv2/webAclAssociation:WebAclAssociation"
AWS_WEB_ACL_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
GCP_SSL_POLICY = "gcp:compute/sSLPolicy:SSLPolicy"
GCP_ARMOR = "gcp:compute/securityPolicy:SecurityPolicy"
GCP_BACKEND = "gcp:compute/backendService:BackendService"
GCP_HTTP_PROXY = "gcp:compute/targetHttpProxy:TargetHttpProxy"
GCP_URL_MAP = "gcp:compute/uRLMap:URLMap"
AZ_APPGW = "azure-native:network:ApplicationGateway"
AZ_WAF = "azure-native:network:WebApplicationFirewallPolicy"
AZ_DIAGNOSTICS = frozenset({"azure-native:insights:DiagnosticSetting", "azure-native:monitor:DiagnosticSetting"})
K8S_INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
HELM_RELEASES = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"})
BACKEND_CONFIG = "kubernetes:cloud.google.com/v1:BackendConfig"

# ELB policies that accept nothing below TLS 1.2.
AWS_TLS12_POLICY_PREFIXES = (
    "ELBSecurityPolicy-TLS13-",
    "ELBSecurityPolicy-TLS-1-2-",
    "ELBSecurityPolicy-FS-1-2-",
)
AZ_TLS12_POLICIES = frozenset({"AppGwSslPolicy20170401S", "AppGwSslPolicy20220101", "AppGwSslPolicy20220101S"})

AWS_OWASP_GROUPS = frozenset(
    {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet"}
)
AWS_REQUIRED_GROUPS = frozenset({"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"})
GCP_OWASP_EXPRS = ("sqli-", "xss-")
MODSEC_ANNOTATION = "nginx.ingress.kubernetes.io/enable-modsecurity"
CRS_ANNOTATION = "nginx.ingress.kubernetes.io/enable-owasp-core-rules"
MODSEC_SNIPPET = "nginx.ingress.kubernetes.io/modsecurity-snippet"
WAF_ANNOTATIONS = (
    "alb.ingress.kubernetes.io/wafv2-acl-arn",
    "appgw.ingress.kubernetes.io/waf-policy-for-path",
    "cloud.google.com/backend-config",
)


@RULES.resource(
    "MAESTRO-EDGE-001",
    "TLS listeners accept TLS 1.2 or newer only.",
    "TLS 1.0/1.1 have known downgrade and cipher weaknesses and are out of every compliance baseline.",
    "high",
    "AWS: sslPolicy 'ELBSecurityPolicy-TLS13-1-2-2021-06'; GCP: an SSLPolicy with minTlsVersion 'TLS_1_2'; "
    "Azure: sslPolicy.minProtocolVersion 'TLSv1_2' (or policy AppGwSslPolicy20220101).",
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html",
    types=[AWS_LISTENER, GCP_SSL_POLICY, AZ_APPGW],
)
def tls12(r: Res) -> Iterable[str]:
    p = r.props
    if r.type == AWS_LISTENER and get(p, "protocol") in ("HTTPS", "TLS"):
        policy = str(get(p, "sslPolicy", default=""))
        if not policy.startswith(AWS_TLS12_POLICY_PREFIXES):
            yield f"sslPolicy {policy or '(default)'} allows TLS below 1.2."
    elif r.type == GCP_SSL_POLICY and get(p, "minTlsVersion") not in ("TLS_1_2", "TLS_1_3"):
        yield f"minTlsVersion is {get(p, 'minTlsVersion')!r}."
    elif r.type == AZ_APPGW:
        ssl = get(p, "sslPolicy")
        if (
            get(ssl, "minProtocolVersion") not in ("TLSv1_2", "TLSv1_3")
            and get(ssl, "policyName") not in AZ_TLS12_POLICIES
        ):
            yield "sslPolicy does not require TLS 1.2."


@RULES.stack(
    "MAESTRO-EDGE-002",
    "Public listeners terminate TLS and redirect plain HTTP to HTTPS.",
    "A listener that serves HTTP lets credentials and API keys travel in clear text. An Ingress served "
    "by an in-cluster controller that is itself only reachable through a TLS-terminating cloud load balancer "
    "(controller Service of type ClusterIP) is an internal hop, not a public listener.",
    "high",
    "AWS: the HTTP listener's default action is a redirect to HTTPS (statusCode HTTP_301); GCP: the HTTP "
    "proxy's URL map has defaultUrlRedirect.httpsRedirect true; Kubernetes: a tls section (or the controller's "
    "certificate annotation) and the controller's HTTPS redirect (ingress-nginx default, ALB/AGIC ssl-redirect, "
    "GKE FrontendConfig).",
    "https://www.pulumi.com/registry/packages/aws/api-docs/lb/listener/",
    covers=("aws", "gcp", "azure", "kubernetes"),
)
def http_redirect(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    internal = _internal_controller_classes(resources)
    for r in resources:
        p = r.props
        if r.type == AWS_LISTENER and get(p, "protocol") == "HTTP":
            actions = as_list(get(p, "defaultActions"))
            if not any(get(a, "type") == "redirect" and get(a, "redirect", "protocol") == "HTTPS" for a in actions):
                yield r.urn, "HTTP listener does not redirect to HTTPS."
        elif r.type == GCP_URL_MAP and get(p, "defaultUrlRedirect") is not None:
            if not truthy(get(p, "defaultUrlRedirect", "httpsRedirect")):
                yield r.urn, "defaultUrlRedirect does not set httpsRedirect."
        elif r.type == K8S_INGRESS and _ingress_class(r) not in internal:
            for detail in _ingress_tls(p):
                yield r.urn, detail


def _internal_controller_classes(resources: Sequence[Res]) -> set[str]:
    """Ingress classes of ingress-nginx controllers whose Service is ClusterIP (reached only via a cloud LB)."""
    return {
        str(get(r.props, "values", "controller", "ingressClassResource", "name", default="nginx"))
        for r in resources
        if _is_nginx_release(r) and get(r.props, "values", "controller", "service", "type") == "ClusterIP"
    }


def _ingress_tls(p: object) -> Iterable[str]:
    """TLS and the HTTP->HTTPS redirect, in the dialect of the controller that serves the Ingress."""
    ann = get(p, "metadata", "annotations", default={})
    keys = [str(k) for k in ann]
    tls = bool(as_list(get(p, "spec", "tls")))
    if any(k.startswith("alb.ingress.kubernetes.io/") for k in keys):
        tls = tls or bool(get(ann, "alb.ingress.kubernetes.io/certificate-arn"))
        redirect = bool(get(ann, "alb.ingress.kubernetes.io/ssl-redirect"))
    elif any(k.startswith("appgw.ingress.kubernetes.io/") for k in keys):
        tls = tls or bool(get(ann, "appgw.ingress.kubernetes.io/appgw-ssl-certificate"))
        redirect = truthy(get(ann, "appgw.ingress.kubernetes.io/ssl-redirect"))
    elif any(k.startswith(("networking.gke.io/", "ingress.gcp.kubernetes.io/")) for k in keys):
        tls = tls or bool(get(ann, "networking.gke.io/managed-certificates"))
        tls = tls or bool(get(ann, "ingress.gcp.kubernetes.io/pre-shared-cert"))
        redirect = bool(get(ann, "networking.gke.io/v1beta1.FrontendConfig"))
    else:  # ingress-nginx: redirects by default once the Ingress has tls
        redirect = not falsy_explicit(get(ann, "nginx.ingress.kubernetes.io/ssl-redirect"))
    if not tls:
        yield "the Ingress terminates no TLS (no tls section or controller certificate annotation)."
    if not redirect:
        yield "the Ingress does not redirect HTTP to HTTPS."


def _ingress_has_waf(r: Res) -> bool:
    ann = get(r.props, "metadata", "annotations", default={})
    if truthy(get(ann, MODSEC_ANNOTATION)) and truthy(get(ann, CRS_ANNOTATION)):
        return True
    return any(get(ann, a) for a in WAF_ANNOTATIONS)


def _ingress_class(r: Res) -> str:
    return str(
        get(r.props, "spec", "ingressClassName")
        or get(r.props, "metadata", "annotations", "kubernetes.io/ingress.class", default="")
    )


def _backend_config_names(value: object) -> set[str]:
    """Names in a `cloud.google.com/backend-config` annotation: {"default": n} or {"ports": {p: n}}."""
    doc = json_doc(value)
    names = {str(get(doc, "default"))} if get(doc, "default") else set()
    ports = get(doc, "ports", default={})
    return names | {str(get(ports, k)) for k in ports}


def _armored_backend_configs(resources: Sequence[Res]) -> set[tuple[str, str]]:
    """(namespace, name) of every GKE BackendConfig that attaches a Cloud Armor policy."""
    return {
        (namespace_of(r.props), name_of(r.name, r.props))
        for r in resources
        if r.type == BACKEND_CONFIG and get(r.props, "spec", "securityPolicy", "name")
    }


def _protected_controller_classes(resources: Sequence[Res]) -> set[str]:
    """Ingress classes served by an ingress-nginx release that runs ModSecurity + CRS itself, or whose Service sits
    behind Cloud Armor (a GKE BackendConfig with a securityPolicy)."""
    armored = _armored_backend_configs(resources)
    classes = set()
    for r in resources:
        if not _is_nginx_release(r):
            continue
        controller = get(r.props, "values", "controller", default={})
        cfg = get(controller, "config", default={})
        ns = str(get(r.props, "namespace", default="default"))
        modsec = truthy(get(cfg, "enable-modsecurity")) and truthy(get(cfg, "enable-owasp-modsecurity-crs"))
        annotation = get(controller, "service", "annotations", "cloud.google.com/backend-config")
        armor = any((ns, n) in armored for n in _backend_config_names(annotation)) if annotation else False
        if modsec or armor:
            classes.add(str(get(controller, "ingressClassResource", "name", default="nginx")))
    return classes


def _is_gce_ingress(r: Res) -> bool:
    ann = get(r.props, "metadata", "annotations", default={})
    return _ingress_class(r) == "gce" or any(
        str(k).startswith(("networking.gke.io/", "kubernetes.io/ingress.global-static-ip-name")) for k in ann
    )


@RULES.stack(
    "MAESTRO-EDGE-003",
    "Every public entry point sits behind a WAF.",
    "The API is the only thing exposed; the WAF (OWASP rules) is the first filter for injection and scanner traffic.",
    "critical",
    "Kubernetes Ingresses carry the WAF annotations from the Foundation (ALB wafv2-acl-arn, AGIC "
    "waf-policy-for-path, ingress-nginx enable-modsecurity + enable-owasp-core-rules), or their class is served by "
    "a controller that runs ModSecurity + CRS or sits behind a GKE BackendConfig with a Cloud Armor policy, or by "
    "an Application Gateway with a WAF policy; public ALBs have a WebAclAssociation; Application Gateways have "
    "a firewallPolicy.",
    "https://www.pulumi.com/registry/packages/aws/api-docs/wafv2/webaclassociation/",
    covers=("aws", "gcp", "azure", "kubernetes"),
)
def behind_waf(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    assocs = [r for r in resources if r.type == AWS_WEB_ACL_ASSOC]
    protected_classes = _protected_controller_classes(resources)
    armored_namespaces = {ns for ns, _ in _armored_backend_configs(resources)}
    gateway_waf = any(r.type == AZ_APPGW and get(r.props, "firewallPolicy", "id") for r in resources)
    for r in resources:
        if r.type == K8S_INGRESS:
            cls = _ingress_class(r)
            ok = (
                _ingress_has_waf(r)
                or cls in protected_classes
                # GKE: the GCE Ingress fronts a controller Service whose BackendConfig attaches Cloud Armor.
                or (_is_gce_ingress(r) and namespace_of(r.props) in armored_namespaces and bool(protected_classes))
                # AGIC: the Application Gateway's own WAF policy applies to every Ingress it serves.
                or (cls == "azure-application-gateway" and gateway_waf)
            )
            if not ok:
                yield r.urn, f"Ingress {r.name} (class {cls or 'default'}) has no WAF attached."
        elif r.type == AWS_LB and not truthy(get(r.props, "internal")):
            if get(r.props, "loadBalancerType", default="application") != "application":
                continue
            ok = any(
                get(a.props, "resourceArn") == get(r.props, "arn") or a.name.startswith(f"{r.name}-") for a in assocs
            )
            if not ok:
                yield r.urn, f"public load balancer {r.name} has no WebAclAssociation."
        elif r.type == AZ_APPGW and not get(r.props, "firewallPolicy", "id"):
            yield r.urn, f"Application Gateway {r.name} has no firewallPolicy."
        elif (
            r.type == GCP_BACKEND
            and get(r.props, "loadBalancingScheme") in ("EXTERNAL", "EXTERNAL_MANAGED")
            and not get(r.props, "securityPolicy")
        ):
            yield r.urn, f"external backend service {r.name} has no Cloud Armor securityPolicy."


def _aws_owasp(p: object, prod: bool) -> Iterable[str]:
    groups = {}
    for rule in as_list(get(p, "rules")):
        group = get(rule, "statement", "managedRuleGroupStatement")
        if get(group, "vendorName") == "AWS" and get(group, "name") in AWS_OWASP_GROUPS:
            groups[str(get(group, "name"))] = rule
    missing = sorted(AWS_REQUIRED_GROUPS - set(groups))
    if missing:
        yield f"managed rule groups missing: {', '.join(missing)}."
    if prod:
        for name, rule in sorted(groups.items()):
            if get(rule, "overrideAction", "count") is not None:
                yield f"{name} runs in count mode (not blocking) in prod."


def _gcp_owasp(p: object, prod: bool) -> Iterable[str]:
    waf_rules = []
    for rule in as_list(get(p, "rules")):
        expr = str(get(rule, "match", "expr", "expression", default=""))
        if "evaluatePreconfiguredWaf" in expr or "evaluatePreconfiguredExpr" in expr:
            waf_rules.append((expr, rule))
    kinds = {k for k in GCP_OWASP_EXPRS if any(k in e for e, _ in waf_rules)}
    if kinds != set(GCP_OWASP_EXPRS):
        yield "preconfigured OWASP rules (sqli, xss) are missing."
    if prod:
        for expr, rule in waf_rules:
            if truthy(get(rule, "preview")) or not str(get(rule, "action", default="")).startswith("deny"):
                yield f"rule {expr!r} does not deny in prod (preview or allow)."


def _azure_owasp(p: object, prod: bool) -> Iterable[str]:
    sets = {str(get(s, "ruleSetType")) for s in as_list(get(p, "managedRules", "managedRuleSets"))}
    if not sets & {"OWASP", "Microsoft_DefaultRuleSet"}:
        yield "no OWASP / Microsoft_DefaultRuleSet managed rule set."
    if get(p, "policySettings", "state") == "Disabled":
        yield "policySettings.state is 'Disabled'."
    if prod and get(p, "policySettings", "mode") != "Prevention":
        yield "policySettings.mode is not 'Prevention' in prod."


def _blocks(snippet: str) -> bool:
    return "SecRuleEngine On" in snippet and "DetectionOnly" not in snippet


def _modsec_release(p: object, prod: bool) -> Iterable[str]:
    cfg = get(p, "values", "controller", "config", default={})
    if not truthy(get(cfg, "enable-modsecurity")):
        return
    if not truthy(get(cfg, "enable-owasp-modsecurity-crs")):
        yield "ingress-nginx enables ModSecurity without the OWASP core rule set."
    if prod and not _blocks(str(get(cfg, "modsecurity-snippet", default=""))):
        yield "ingress-nginx ModSecurity is not blocking (modsecurity-snippet lacks SecRuleEngine On) in prod."


def _modsec_ingress(p: object, prod: bool, global_blocking: bool) -> Iterable[str]:
    ann = get(p, "metadata", "annotations", default={})
    if not truthy(get(ann, MODSEC_ANNOTATION)):
        return
    if not truthy(get(ann, CRS_ANNOTATION)):
        yield "ModSecurity is on without the OWASP core rule set."
    snippet = get(ann, MODSEC_SNIPPET)
    blocking = _blocks(str(snippet)) if snippet is not None else global_blocking
    if prod and not blocking:
        yield "ModSecurity is not blocking (SecRuleEngine On, here or in the controller config) in prod."


def _is_nginx_release(r: Res) -> bool:
    return r.type in HELM_RELEASES and "ingress-nginx" in str(get(r.props, "chart", default=""))


@RULES.stack(
    "MAESTRO-EDGE-004",
    "The WAF runs the managed OWASP rule sets, blocking in prod.",
    "A WAF in count/detection mode only logs the attack it was bought to stop.",
    "critical",
    "AWS: AWSManagedRulesCommonRuleSet and AWSManagedRulesKnownBadInputsRuleSet with overrideAction none; GCP: "
    "evaluatePreconfiguredWaf sqli and xss rules with action deny and preview false; Azure: an OWASP managed rule "
    "set and policySettings.mode 'Prevention'; ingress-nginx: enable-owasp-modsecurity-crs (controller) or "
    "enable-owasp-core-rules (Ingress), and SecRuleEngine On in the modsecurity-snippet.",
    "https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html",
    covers=("aws", "gcp", "azure", "kubernetes"),
)
def owasp_blocking(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    prod = env == "prod"
    cloud = {AWS_WEB_ACL: _aws_owasp, GCP_ARMOR: _gcp_owasp, AZ_WAF: _azure_owasp}
    releases = [r for r in resources if _is_nginx_release(r)]
    global_blocking = any(
        _blocks(str(get(r.props, "values", "controller", "config", "modsecurity-snippet", default="")))
        for r in releases
    )
    for r in resources:
        if r.type in cloud:
            details = cloud[r.type](r.props, prod)
        elif _is_nginx_release(r):
            details = _modsec_release(r.props, prod)
        elif r.type == K8S_INGRESS:
            details = _modsec_ingress(r.props, prod, global_blocking)
        else:
            continue
        for detail in details:
            yield r.urn, detail


@RULES.stack(
    "MAESTRO-EDGE-005",
    "WAF decisions are logged.",
    "Without WAF logs a blocked attack and a blocked customer look the same: invisible.",
    "medium",
    "AWS: a WebAclLoggingConfiguration per web ACL (named '<acl>-logging'); GCP: logConfig.enable on backend "
    "services with a securityPolicy, spec.logging.enable on a GKE BackendConfig that attaches one; Azure: a "
    "DiagnosticSetting for the WAF policy's gateway (named "
    "'<gateway>-diagnostics').",
    "https://www.pulumi.com/registry/packages/aws/api-docs/wafv2/webaclloggingconfiguration/",
    covers=("aws", "gcp", "azure"),
)
def waf_logging(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    logs = [r for r in resources if r.type == AWS_WEB_ACL_LOGGING]
    for r in resources:
        if r.type == AWS_WEB_ACL:
            ok = any(
                get(lc.props, "resourceArn") == get(r.props, "arn") or lc.name.startswith(f"{r.name}-") for lc in logs
            )
            if not ok:
                yield r.urn, f"web ACL {r.name} has no logging configuration."
        elif r.type == BACKEND_CONFIG and get(r.props, "spec", "securityPolicy", "name"):
            if not truthy(get(r.props, "spec", "logging", "enable")):
                yield r.urn, f"BackendConfig {r.name} attaches Cloud Armor without request logging."
        elif r.type == GCP_BACKEND and get(r.props, "securityPolicy"):
            if not truthy(get(r.props, "logConfig", "enable")):
                yield r.urn, f"backend service {r.name} does not log requests."
        elif r.type == AZ_APPGW and not any(
            d.type in AZ_DIAGNOSTICS and d.name.startswith(f"{r.name}-") for d in resources
        ):
            yield r.urn, f"Application Gateway {r.name} has no DiagnosticSetting."


@RULES.resource(
    "MAESTRO-EDGE-006",
    "Application load balancers drop invalid HTTP headers.",
    "Forwarding malformed headers enables request smuggling between the load balancer and the app.",
    "medium",
    "Set dropInvalidHeaderFields true on the load balancer.",
    "https://www.pulumi.com/registry/packages/aws/api-docs/lb/loadbalancer/#dropinvalidheaderfields_python",
    enforcement="advisory",
    types=[AWS_LB],
)
def drop_invalid_headers(r: Res) -> Iterable[str]:
    application = get(r.props, "loadBalancerType", default="application") == "application"
    if application and not truthy(get(r.props, "dropInvalidHeaderFields")):
        yield "dropInvalidHeaderFields is not true."
