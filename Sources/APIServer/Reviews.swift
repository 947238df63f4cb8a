import Foundation
import YAML

/// The create-only kinds the server answers itself: TokenRequest (`serviceaccounts/<name>/token`,
/// what `kubectl create token` asks), the access reviews (`kubectl auth can-i`, with `--list`
/// SelfSubjectRulesReview), SelfSubjectReview (`kubectl auth whoami`) and TokenReview.
extension APIServer {
    func review(_ route: Route, _ body: JSON, user: UserInfo, dryRun: Bool) throws(APIError) -> (Int, JSON) {
        var answer = body
        answer["apiVersion"] = .string(route.subresource == "token" ? "authentication.k8s.io/v1" : route.type.apiVersion)
        answer["kind"] = .string(route.subresource == "token" ? "TokenRequest" : route.type.kind)
        var meta = body["metadata"]?.objectValue ?? JSONObject()
        meta["creationTimestamp"] = .null
        answer["metadata"] = .object(meta)
        if route.subresource == "token" {
            return (201, try tokenRequest(route, answer, dryRun: dryRun))
        }
        let spec = body["spec"] ?? [:]
        switch route.type.resource {
        case "selfsubjectaccessreviews":
            answer["status"] = try accessReview(user, spec, namespace: nil)
        case "subjectaccessreviews", "localsubjectaccessreviews":
            let groups = spec["groups"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let name = spec["user"]?.stringValue ?? ""
            guard !name.isEmpty || !groups.isEmpty else {
                throw APIError.invalid(route.type, "", [.init(.required, "spec.user", "Required value: at least one of user or group must be specified")])
            }
            var extra: [String: [String]] = [:]
            for (k, v) in spec["extra"]?.objectValue ?? JSONObject() { extra[k] = v.arrayValue?.compactMap(\.stringValue) ?? [] }
            let subject = UserInfo(name: name, uid: spec["uid"]?.stringValue ?? "", groups: groups, extra: extra)
            answer["status"] = try accessReview(subject, spec, namespace: route.type.namespaced ? route.namespace ?? "" : nil)
        case "selfsubjectrulesreviews":
            answer["status"] = rulesReview(user, namespace: spec["namespace"]?.stringValue ?? "")
        case "selfsubjectreviews":
            answer["status"] = ["userInfo": user.json]
        case "tokenreviews":
            let token = spec["token"]?.stringValue ?? ""
            if let found = identity(forToken: token) {
                answer["status"] = ["authenticated": true, "user": found.json, "audiences": spec["audiences"] ?? ["https://kubernetes.default.svc"]]
            } else {
                answer["status"] = ["authenticated": false, "error": "invalid bearer token"]
            }
        default:
            throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
        }
        return (201, answer)
    }

    /// SubjectAccessReviewStatus for a user and the review's resource or non-resource attributes.
    func accessReview(_ subject: UserInfo, _ spec: JSON, namespace: String?) throws(APIError) -> JSON {
        let attributes: RequestAttributes
        if let r = spec["resourceAttributes"] {
            func field(_ k: String) -> String { r[k]?.stringValue ?? "" }
            if let namespace, !field("namespace").isEmpty, field("namespace") != namespace {
                throw APIError.badRequest("spec.resourceAttributes.namespace must match metadata.namespace")
            }
            attributes = RequestAttributes(isResourceRequest: true, path: "", verb: field("verb"), apiGroup: field("group"), apiVersion: field("version"),
                                           resource: field("resource"), subresource: field("subresource"),
                                           namespace: namespace ?? field("namespace"), name: field("name"))
        } else if let n = spec["nonResourceAttributes"] {
            attributes = RequestAttributes(isResourceRequest: false, path: n["path"]?.stringValue ?? "", verb: n["verb"]?.stringValue ?? "")
        } else {
            throw APIError.badRequest("exactly one of nonResourceAttributes or resourceAttributes must be specified")
        }
        let decision = authorize(subject, attributes)
        var status: JSON = ["allowed": .bool(decision.allowed)]
        if !decision.reason.isEmpty { status["reason"] = .string(decision.reason) }
        return status
    }

    /// SubjectRulesReviewStatus: every rule that applies to the user in the namespace.
    func rulesReview(_ user: UserInfo, namespace: String) -> JSON {
        if !configuration.rbac || user.isMaster {
            return ["resourceRules": [["verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]]],
                    "nonResourceRules": [["verbs": ["*"], "nonResourceURLs": ["*"]]], "incomplete": false]
        }
        let (rules, errors) = rbac().rules(for: user, namespace: namespace)
        var resourceRules: [JSON] = []
        var nonResourceRules: [JSON] = []
        for rule in rules {
            if !rule.resources.isEmpty {
                var o: JSON = ["verbs": .array(rule.verbs.map { .string($0) }), "apiGroups": .array(rule.apiGroups.map { .string($0) }),
                               "resources": .array(rule.resources.map { .string($0) })]
                if !rule.resourceNames.isEmpty { o["resourceNames"] = .array(rule.resourceNames.map { .string($0) }) }
                resourceRules.append(o)
            }
            if !rule.nonResourceURLs.isEmpty {
                nonResourceRules.append(["verbs": .array(rule.verbs.map { .string($0) }), "nonResourceURLs": .array(rule.nonResourceURLs.map { .string($0) })])
            }
        }
        var status: JSON = ["resourceRules": .array(resourceRules), "nonResourceRules": .array(nonResourceRules), "incomplete": false]
        let reason = RBACSnapshot.reason(errors)
        if !reason.isEmpty { status["evaluationError"] = .string(reason) }
        return status
    }

    /// TokenRequest: a token for the ServiceAccount, valid while it exists, for
    /// `spec.expirationSeconds` (default an hour, at least ten minutes).
    func tokenRequest(_ route: Route, _ request: JSON, dryRun: Bool) throws(APIError) -> JSON {
        let namespace = route.namespace ?? ""
        let name = route.name ?? ""
        let account = store.state.withLock { $0.objects[route.type.key]?[ObjectKey(namespace: namespace, name: name)] }
        guard let account, let uid = account[path: "metadata", "uid"]?.stringValue else { throw APIError.notFound(route.type, name) }
        let seconds = request[path: "spec", "expirationSeconds"]?.intValue ?? 3600
        guard seconds >= 600 else {
            throw APIError(code: 422, reason: "Invalid",
                           message: "TokenRequest.authentication.k8s.io \"\(name)\" is invalid: spec.expirationSeconds: Invalid value: \(seconds): may not specify a duration less than 10 minutes",
                           details: ["name": .string(name), "group": "authentication.k8s.io", "kind": "TokenRequest",
                                     "causes": [["reason": "FieldValueInvalid", "message": .string("Invalid value: \(seconds): may not specify a duration less than 10 minutes"),
                                                 "field": "spec.expirationSeconds"]]])
        }
        let token = dryRun ? "" : issue(.serviceAccount(namespace: namespace, name: name, uid: uid), expiresIn: .seconds(seconds))
        var answer = request
        answer["metadata"]?["name"] = .string(name)
        answer["metadata"]?["namespace"] = .string(namespace)
        var spec = request["spec"]?.objectValue ?? JSONObject()
        spec["expirationSeconds"] = .int(seconds)
        if spec["audiences"] == nil || spec["audiences"] == .array([]) { spec["audiences"] = ["https://kubernetes.default.svc"] }
        if spec["boundObjectRef"] == nil { spec["boundObjectRef"] = .null }
        answer["spec"] = .object(spec)
        answer["status"] = ["token": .string(token),
                            "expirationTimestamp": .string(Timestamp.rfc3339(seconds: Int64(Date().timeIntervalSince1970) + seconds, micros: nil))]
        return answer
    }
}

/// The roles and bindings a new cluster has (kube-apiserver's bootstrap policy), the part that
/// matters here: `cluster-admin` for `system:masters`, discovery and health for everyone,
/// self-reviews for every authenticated user, and `admin`/`edit`/`view` as aggregated roles
/// that CRD authors' `aggregate-to-*` roles extend.
enum BootstrapRBAC {
    static let labels: JSON = ["kubernetes.io/bootstrapping": "rbac-defaults"]
    static let annotations: JSON = ["rbac.authorization.kubernetes.io/autoupdate": "true"]

    static func clusterRole(_ name: String, _ rules: [JSON], labels extra: [String: String] = [:], aggregate: String? = nil) -> JSON {
        var labelObject = labels.objectValue ?? JSONObject()
        for (k, v) in extra { labelObject[k] = .string(v) }
        var role: JSON = ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                          "metadata": ["name": .string(name), "labels": .object(labelObject), "annotations": annotations], "rules": .array(rules)]
        if let aggregate {
            role["aggregationRule"] = ["clusterRoleSelectors": [["matchLabels": ["rbac.authorization.k8s.io/aggregate-to-\(aggregate)": "true"]]]]
            role["rules"] = []
        }
        return role
    }

    static func binding(_ name: String, role: String, groups: [String]) -> JSON {
        ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": ["name": .string(name), "labels": labels, "annotations": annotations],
         "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": .string(role)],
         "subjects": .array(groups.map { ["apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": .string($0)] })]
    }

    static func rule(_ verbs: [String], _ groups: [String], _ resources: [String]) -> JSON {
        ["verbs": .array(verbs.map { .string($0) }), "apiGroups": .array(groups.map { .string($0) }), "resources": .array(resources.map { .string($0) })]
    }

    static let read = ["get", "list", "watch"]
    static let write = ["create", "delete", "deletecollection", "patch", "update"]

    static var objects: [JSON] {
        let core = ["configmaps", "endpoints", "events", "pods", "pods/log", "pods/status", "serviceaccounts", "services", "services/status"]
        return [
            clusterRole("cluster-admin", [["verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]], ["verbs": ["*"], "nonResourceURLs": ["*"]]]),
            clusterRole("system:discovery", [["verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                                                                                   "/openapi/*", "/readyz", "/version", "/version/"]]]),
            clusterRole("system:public-info-viewer", [["verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]]]),
            clusterRole("system:basic-user", [rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
                                              rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"])]),
            clusterRole("admin", [], aggregate: "admin"),
            clusterRole("edit", [], labels: ["rbac.authorization.k8s.io/aggregate-to-admin": "true"], aggregate: "edit"),
            clusterRole("view", [], labels: ["rbac.authorization.k8s.io/aggregate-to-edit": "true"], aggregate: "view"),
            clusterRole("system:aggregate-to-admin", [rule(read + write, ["rbac.authorization.k8s.io"], ["rolebindings", "roles"]),
                                                      rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"])],
                        labels: ["rbac.authorization.k8s.io/aggregate-to-admin": "true"]),
            clusterRole("system:aggregate-to-edit", [rule(write, [""], ["configmaps", "pods", "secrets", "serviceaccounts", "services"]),
                                                     rule(read + write, ["apps"], ["deployments"]), rule(read + write, ["batch"], ["jobs"])],
                        labels: ["rbac.authorization.k8s.io/aggregate-to-admin": "true", "rbac.authorization.k8s.io/aggregate-to-edit": "true"]),
            clusterRole("system:aggregate-to-view", [rule(read, [""], core), rule(read, ["apps"], ["deployments"]), rule(read, ["batch"], ["jobs"]),
                                                     rule(read, ["policy"], ["poddisruptionbudgets"]), rule(read, ["discovery.k8s.io"], ["endpointslices"])],
                        labels: ["rbac.authorization.k8s.io/aggregate-to-admin": "true", "rbac.authorization.k8s.io/aggregate-to-edit": "true",
                                 "rbac.authorization.k8s.io/aggregate-to-view": "true"]),
            binding("cluster-admin", role: "cluster-admin", groups: ["system:masters"]),
            binding("system:discovery", role: "system:discovery", groups: ["system:authenticated"]),
            binding("system:public-info-viewer", role: "system:public-info-viewer", groups: ["system:authenticated", "system:unauthenticated"]),
            binding("system:basic-user", role: "system:basic-user", groups: ["system:authenticated"]),
        ]
    }
}
